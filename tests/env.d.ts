// Bindings the test pool gives the Worker (vitest.config.ts), and the main module behind `exports`.
declare namespace Cloudflare {
  interface Env {
    DATABASE_URL: string;
    DATABASE_WS_PROXY: string;
    AUTH_URL: string;
    OAUTH_JWKS_URL: string;
    OAUTH_ISSUER: string;
    OAUTH_AUDIENCE: string;
    SECURITY_KEY: string;
    DOCKERHUB_URL: string;
    DOCKERHUB_CHECK: string;
    INSTALL_SERVICE_URL: string;
    INSTALL_WEBHOOK_SECRET: string;
    QSTASH_URL: string;
    QSTASH_CURRENT_SIGNING_KEY: string;
    QSTASH_NEXT_SIGNING_KEY: string;
    VAULT_ADDRESS: string;
    VAULT_TOKEN: string;
    VAULT_AGENT_PATH_PREFIX: string;
    DEPLOYMENT_DOORBELL: DurableObjectNamespace;
    RATE_LIMITER: DurableObjectNamespace<import('../functions/durable/rate-limiter.ts').RateLimiter>;
  }
  interface GlobalProps {
    mainModule: typeof import('../functions/index.ts');
  }
}
