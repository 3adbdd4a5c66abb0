import * as grpc from '@grpc/grpc-js';
import type { HealthHandlers } from '../../proto/gen/grpc/health/v1/Health.js';

const SERVICE = 'defaas.executor.v1.Executor';

/**
 * grpc.health.v1 for the executor service (and the server as a whole, service ""): SERVING while the
 * executor serves; watchers are told NOT_SERVING and closed when it stops.
 */
export class HealthService {
  private serving = false;
  private readonly watchers = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  get isServing(): boolean {
    return this.serving;
  }

  start(): void {
    this.serving = true;
  }

  stop(): void {
    this.serving = false;
    for (const w of this.watchers) {
      w.write({ status: 'NOT_SERVING' });
      w.end();
    }
    this.watchers.clear();
  }

  handlers(): HealthHandlers {
    const statusFor = (service: string) =>
      service === '' || service === SERVICE ? (this.serving ? 'SERVING' : 'NOT_SERVING') : 'SERVICE_UNKNOWN';
    return {
      Check: (call, cb) => {
        const s = statusFor(call.request.service);
        if (s === 'SERVICE_UNKNOWN') cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, { status: s });
      },
      List: (_call, cb) => {
        cb(null, { statuses: { '': { status: statusFor('') }, [SERVICE]: { status: statusFor('') } } });
      },
      Watch: (call) => {
        call.write({ status: statusFor(call.request.service) });
        const w = call as grpc.ServerWritableStream<unknown, unknown>;
        this.watchers.add(w);
        call.on('cancelled', () => this.watchers.delete(w));
      },
    };
  }
}
