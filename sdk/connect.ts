import { type ConnectOptions, Session } from './session/session.js';

/**
 * Opens an attested session to the executor at `endpoint` ("host:port"): verifies its evidence under
 * `policy`, checks that REPORTDATA binds the presented keys and that the identity key signed the
 * handshake, then derives the session keys. Rejects with a DefaasError (stable `code`) otherwise.
 */
export function connect(endpoint: string, opts: ConnectOptions): Promise<Session> {
  return Session.open(endpoint, opts);
}
