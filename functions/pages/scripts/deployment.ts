// The deployment page's script (see functions/routes/dashboard/). Plain JavaScript, served by the Worker.
export const DEPLOYMENT_JS = ``;
