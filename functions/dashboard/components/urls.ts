// The addresses of pages that other sections link to.

export const projectUrl = (projectId: number) => `/projects/${projectId}`;
export const appUrl = (projectId: number, code: unknown) => `/projects/${projectId}/apps/${encodeURIComponent(String(code))}`;
export const deployUrl = (projectId: number) => `/projects/${projectId}/deploy`;
export const deploymentUrl = (projectId: number, deploymentId: number) => `/projects/${projectId}/deployments/${deploymentId}`;
/** The agent console of a deployment: link to it from wherever the deployment is shown. */
export const agentConsoleUrl = (projectId: number, deploymentId: number) => `${deploymentUrl(projectId, deploymentId)}/agent`;
/** A deployment's live event feed (live-events.tsx). */
export const deploymentEventsUrl = (projectId: number, deploymentId: number) => `${deploymentUrl(projectId, deploymentId)}/events`;
