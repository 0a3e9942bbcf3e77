/* Gatehouse passkeys: the page's buttons with `data-passkey` run a WebAuthn ceremony. */
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;
  const post = (url, body, csrf, bearer) =>
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify(body ?? {}),
    }).then((response) =>
      response.json().then((json) => {
        if (!response.ok)
          throw new Error(typeof json.detail === 'string' ? json.detail : 'The request failed');
        return json;
      }),
    );
  const show = (button, text) => {
    const target = document.getElementById(button.dataset.status ?? '');
    if (target) target.textContent = text;
  };
  const showCodes = (codes) => {
    const section = document.getElementById('passkey-recovery-codes');
    const list = section?.querySelector('ol');
    if (!section || !list) return false;
    for (const code of codes) {
      const item = document.createElement('li');
      item.textContent = code;
      list.append(item);
    }
    section.hidden = false;
    return true;
  };
  const signIn = (b, autofill) =>
    post(`${b.dataset.base}/webauthn/authenticate/options`)
      .then((options) => webauthn.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill }))
      .then((assertion) => post(`${b.dataset.base}/login/passkey`, { assertion: JSON.stringify(assertion) }))
      .then(() => window.location.assign(b.dataset.next));
  const ceremonies = {
    register: (b) =>
      post(`${b.dataset.base}/users/me/factors/webauthn/options`, {}, b.dataset.csrf)
        .then((options) => webauthn.startRegistration({ optionsJSON: options }))
        .then((response) =>
          post(`${b.dataset.base}/users/me/factors/webauthn`, { name: 'Passkey', response }, b.dataset.csrf),
        )
        .then((factor) => {
          if (!(factor.recovery_codes && showCodes(factor.recovery_codes))) {
            window.location.assign(`${b.dataset.base}/account?notice=passkey-added`);
          } else show(b, 'Passkey added.');
        }),
    signin: (b) => signIn(b, false),
    mfa: (b) =>
      post(`${b.dataset.base}/mfa/webauthn/options`, { mfa_token: b.dataset.mfaToken })
        .then((options) => webauthn.startAuthentication({ optionsJSON: options }))
        .then((assertion) =>
          post(`${b.dataset.base}/login/mfa`, {
            mfa_token: b.dataset.mfaToken,
            assertion: JSON.stringify(assertion),
          }),
        )
        .then(() => window.location.assign(b.dataset.next)),
    // Enrolment by policy: the enrollment token stands in for a session until the passkey is added.
    enrol: (b) =>
      post(`${b.dataset.base}/users/me/factors/webauthn/options`, {}, undefined, b.dataset.enrollmentToken)
        .then((options) => webauthn.startRegistration({ optionsJSON: options }))
        .then((response) =>
          post(`${b.dataset.base}/login/enrollment/passkey`, {
            enrollment_token: b.dataset.enrollmentToken,
            response,
          }),
        )
        .then((done) => {
          if (!(done.recovery_codes?.length && showCodes(done.recovery_codes)))
            window.location.assign(b.dataset.next);
          else show(b, 'Passkey added: you are signed in.');
        }),
    reauth: (b) =>
      post(`${b.dataset.base}/reauthenticate/webauthn/options`, {}, b.dataset.csrf)
        .then((options) => webauthn.startAuthentication({ optionsJSON: options }))
        .then((assertion) =>
          post(`${b.dataset.base}/reauthenticate`, { assertion: JSON.stringify(assertion) }, b.dataset.csrf),
        )
        .then(() => window.location.assign(`${b.dataset.base}/account?notice=reauthenticated`)),
  };
  for (const button of document.querySelectorAll('[data-passkey]')) {
    if (!webauthn.browserSupportsWebAuthn()) {
      show(button, 'This browser cannot use passkeys here (they need a localhost or https address).');
      continue;
    }
    button.hidden = false;
    const section = button.closest('[data-passkey-section]');
    if (section) section.hidden = false;
    button.addEventListener('click', (event) => {
      event.preventDefault();
      show(button, 'Follow your browser’s prompt…');
      ceremonies[button.dataset.passkey]?.(button).catch((error) => show(button, error.message));
    });
  }
  // Conditional UI (WebAuthn L3 `mediation: 'conditional'`): the username field's autofill offers
  // the passkeys; the button's own ceremony aborts this one, which is then no error to show.
  const autofill = document.querySelector('[data-passkey="signin"]');
  if (autofill && webauthn.browserSupportsWebAuthn()) {
    webauthn
      .browserSupportsWebAuthnAutofill()
      .then((available) => available && signIn(autofill, true))
      .catch((error) => {
        if (error.name !== 'AbortError' && error.code !== 'ERROR_CEREMONY_ABORTED')
          show(autofill, error.message);
      });
  }
})();
