// The dashboard's page frame: Pico CSS, htmx and the dashboard's own small stylesheet and script,
// all served by the Worker itself (no CDN).
import type { Child } from 'hono/jsx';
import { ADMIN_ROLE, type AuthenticatedUser } from '../../principal.ts';

export const ASSETS = {
  css: '/assets/pico.min.css',
  htmx: '/assets/htmx.min.js',
  dashboardCss: '/assets/dashboard.css',
  dashboardJs: '/assets/dashboard.js',
  /** Pages that follow a deployment load these themselves (pages/scripts/). */
  liveJs: '/assets/live.js',
  deploymentJs: '/assets/deployment.js',
  agentJs: '/assets/agent.js',
};

const SECTIONS = [
  { href: '/projects', label: 'Projects' },
  { href: '/keys', label: 'Cloud keys' },
  { href: '/servers', label: 'Servers' },
  { href: '/clients', label: 'API clients' },
  { href: '/ratings', label: 'Ratings' },
];

export function Layout(props: { title: string; user?: AuthenticatedUser; notice?: string; children?: Child }) {
  const sections = props.user?.role === ADMIN_ROLE ? [...SECTIONS, { href: '/admin', label: 'Admin' }] : SECTIONS;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Stacker`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={ASSETS.css} />
        <link rel="stylesheet" href={ASSETS.dashboardCss} />
        <script src={ASSETS.htmx} defer></script>
        <script src={ASSETS.dashboardJs} defer></script>
      </head>
      <body>
        <header class="container">
          <nav aria-label="Main">
            <ul>
              <li>
                <strong>Stacker</strong>
              </li>
              {props.user &&
                sections.map((section) => (
                  <li>
                    <a href={section.href}>{section.label}</a>
                  </li>
                ))}
            </ul>
            <ul>
              {props.user ? (
                <>
                  <li>{`Signed in as ${props.user.id}${props.user.role === ADMIN_ROLE ? ' (admin)' : ''}`}</li>
                  <li>
                    <form method="post" action="/logout" style="margin:0">
                      <button type="submit" class="secondary outline">
                        Sign out
                      </button>
                    </form>
                  </li>
                </>
              ) : (
                <li>
                  <a href="/login" role="button">
                    Sign in
                  </a>
                </li>
              )}
            </ul>
          </nav>
        </header>
        <main class="container">
          {props.notice && (
            <p class="notice" role="status">
              {props.notice}
            </p>
          )}
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** Where a page sits: links up to it, the page itself last (Pico's breadcrumb nav). */
export function Breadcrumbs(props: { trail: Array<{ label: string; href?: string }> }) {
  return (
    <nav aria-label="breadcrumb">
      <ul>
        {props.trail.map((step) => (
          <li>{step.href ? <a href={step.href}>{step.label}</a> : step.label}</li>
        ))}
      </ul>
    </nav>
  );
}
