/** 4xx failures of the HTTP layer itself (bad body, wrong media type), and validation issues. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** A 4xx raised by the HTTP layer itself (bad body, wrong media type). */
export class HttpClientError extends Error {
  readonly statusCode: number;
  readonly issues: ValidationIssue[] | undefined;
  constructor(statusCode: number, message: string, issues?: ValidationIssue[]) {
    super(message);
    this.name = 'HttpClientError';
    this.statusCode = statusCode;
    this.issues = issues;
  }
}
