// The agent page's script (see functions/routes/dashboard/). Plain JavaScript, served by the Worker.
export const AGENT_JS = ``;
