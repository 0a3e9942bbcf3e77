/** Settings: the clients of Gatehouse as an OpenID Provider. */
import { durationOrZero } from '../parsers.ts';
import { setting } from '../setting.ts';

export const CLIENT_SETTINGS = [
  setting({
    env: 'GATEHOUSE_CLIENT_SECRET_OVERLAP',
    key: 'clientSecretOverlapSeconds',
    description:
      "After a client's secret is rotated (`POST /clients/{client_id}/secret`, `gatehouse clients rotate-secret`), the previous secret keeps working this long, so the client can be redeployed with the new one. `0` ends it at once.",
    defaultText: '1h',
    type: durationOrZero,
  }),
];
