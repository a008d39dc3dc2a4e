// The error registry of the QGA wire: qemu-ga 7.2 uses exactly two classes; every desc string below is
// byte-for-byte what qemu-ga sends for the same case.
export type QgaErrorClass = "GenericError" | "CommandNotFound";

export class QgaError extends Error {
  constructor(readonly errorClass: QgaErrorClass, readonly desc: string) {
    super(desc);
  }
}

export const genericError = (desc: string): QgaError => new QgaError("GenericError", desc);

export const QgaErrors = {
  commandNotFound: (name: string) => new QgaError("CommandNotFound", `The command ${name} has not been found`),
  /** Blocked by -b / not in -a, or disabled by the frozen state (then with a reason). */
  commandDisabled: (name: string, reason?: string) =>
    new QgaError("CommandNotFound", `Command ${name} has been disabled${reason ? `: ${reason}` : ""}`),
  notAnObject: () => genericError("QMP input must be a JSON object"),
  lacksExecute: () => genericError("QMP input lacks member 'execute'"),
  memberMustBeString: (member: string) => genericError(`QMP input member '${member}' must be a string`),
  argumentsMustBeObject: () => genericError("QMP input member 'arguments' must be an object"),
  memberUnexpected: (member: string) => genericError(`QMP input member '${member}' is unexpected`),
  unsupported: () => genericError("this feature or command is not currently supported"),
  invalidParameter: (name: string) => genericError(`Invalid parameter '${name}'`),
  invalidArgumentValue: (value: string, arg: string) => genericError(`value '${value}' is invalid for argument ${arg}`),
  handleNotFound: (handle: number | bigint) => genericError(`handle '${handle}' has not been found`),
  base64Invalid: () => genericError("Base64 data contains invalid characters"),
  frozenReason: "the agent is in frozen state",
} as const;
