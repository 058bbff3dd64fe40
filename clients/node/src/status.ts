// SPDX-License-Identifier: MIT
// Status codes (gRPC numbering, as on the wire) and one error class per code.

/** The codes of Response.status.code, numbered exactly like gRPC's. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeName = keyof typeof Code;

const NAMES: readonly CodeName[] = (Object.keys(Code) as CodeName[]).sort(
  (a, b) => Code[a] - Code[b],
);

/** codeName returns the gRPC name of a code, "UNKNOWN" outside 0..16. */
export function codeName(code: number): CodeName {
  return NAMES[code] ?? "UNKNOWN";
}

/** What a failed call knew besides its code and message. */
export interface ErrorDetails {
  /** The call's request_id: retrying with it applies a mutation once. */
  requestId?: string;
  /** The reply's metadata, when the broker answered. */
  metadata?: Record<string, string>;
}

/**
 * CacheBrokerError is every failure of a call: a non-OK status from the
 * broker, or one the client decided itself (no broker within the deadline,
 * a request too large to send, a lost connection, a closed client). Each
 * code has its own subclass, so callers can test with instanceof.
 */
export class CacheBrokerError extends Error {
  /** The gRPC code, 1..16. */
  readonly code: number;
  /** Its name: "INVALID_ARGUMENT". */
  readonly codeName: CodeName;
  readonly requestId: string | undefined;
  readonly metadata: Record<string, string>;

  constructor(code: number, message: string, details: ErrorDetails = {}) {
    super(message);
    this.code = code;
    this.codeName = codeName(code);
    this.requestId = details.requestId;
    this.metadata = details.metadata ?? {};
    this.name = new.target.name;
  }
}

export class CancelledError extends CacheBrokerError {}
export class UnknownError extends CacheBrokerError {}
export class InvalidArgumentError extends CacheBrokerError {}
export class DeadlineExceededError extends CacheBrokerError {}
export class NotFoundError extends CacheBrokerError {}
export class AlreadyExistsError extends CacheBrokerError {}
export class PermissionDeniedError extends CacheBrokerError {}
export class ResourceExhaustedError extends CacheBrokerError {}
export class FailedPreconditionError extends CacheBrokerError {}
export class AbortedError extends CacheBrokerError {}
export class OutOfRangeError extends CacheBrokerError {}
export class UnimplementedError extends CacheBrokerError {}
export class InternalError extends CacheBrokerError {}
export class UnavailableError extends CacheBrokerError {}
export class DataLossError extends CacheBrokerError {}
export class UnauthenticatedError extends CacheBrokerError {}

type ErrorClass = new (
  code: number,
  message: string,
  details?: ErrorDetails,
) => CacheBrokerError;

// Indexed by code; 0 (OK) is never an error.
const CLASSES: readonly (ErrorClass | undefined)[] = [
  undefined,
  CancelledError,
  UnknownError,
  InvalidArgumentError,
  DeadlineExceededError,
  NotFoundError,
  AlreadyExistsError,
  PermissionDeniedError,
  ResourceExhaustedError,
  FailedPreconditionError,
  AbortedError,
  OutOfRangeError,
  UnimplementedError,
  InternalError,
  UnavailableError,
  DataLossError,
  UnauthenticatedError,
];

/**
 * statusError builds the error of a non-OK code. A code outside 1..16 is
 * kept as UNKNOWN with the number in the message, so nothing the broker
 * says is lost.
 */
export function statusError(
  code: number,
  message: string,
  details: ErrorDetails = {},
): CacheBrokerError {
  const cls = Number.isInteger(code) ? CLASSES[code] : undefined;
  if (cls === undefined) {
    return new UnknownError(
      Code.UNKNOWN,
      `status code ${code}: ${message}`,
      details,
    );
  }
  return new cls(code, message, details);
}
