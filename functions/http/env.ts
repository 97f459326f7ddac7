import type { Config } from '../config.ts';
import type { RequestDatabase } from '../../db/client.ts';
import type { Principal } from '../principal.ts';
import type { AgentWaitOpening } from '../services/doorbell.ts';
import type { RateLimiter } from '../durable/rate-limiter.ts';

/** Worker bindings: the settings of functions/config.ts plus the platform bindings. */
export interface Bindings {
  DEPLOYMENT_DOORBELL: DurableObjectNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  [setting: string]: unknown;
}

export interface Variables {
  requestId: string;
  /** When the request reached the Worker (ms since the epoch), before any middleware ran. */
  receivedAt: number;
  config: Config;
  database: RequestDatabase;
  principal: Principal;
  /**
   * The wait route's first listen, opened by authentication together with the token check (one call
   * to the deployment's object); the route starts it, authentication closes it if the route did not.
   */
  agentWait?: AgentWaitOpening;
  /**
   * Set by a route whose answer is routine and frequent (an agent's idle poll): the request line is
   * logged at debug, not info, so an idle fleet does not fill the logs (one line per agent every 25 s).
   */
  routineRequest?: boolean;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
