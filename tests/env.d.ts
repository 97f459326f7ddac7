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
    DEPLOYMENT_DOORBELL: DurableObjectNamespace;
  }
  interface GlobalProps {
    mainModule: typeof import('../functions/index.ts');
  }
}
