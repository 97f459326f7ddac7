// The dashboard's page frame: Pico CSS and htmx, both served by the Worker itself (no CDN).
import type { Child } from 'hono/jsx';
import type { AuthenticatedUser } from '../principal.ts';

export const ASSETS = { css: '/assets/pico.min.css', htmx: '/assets/htmx.min.js' };

export function Layout(props: { title: string; user?: AuthenticatedUser; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Stacker`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={ASSETS.css} />
        <script src={ASSETS.htmx} defer></script>
      </head>
      <body>
        <header class="container">
          <nav>
            <ul>
              <li>
                <strong>Stacker</strong>
              </li>
              {props.user && (
                <li>
                  <a href="/projects">Projects</a>
                </li>
              )}
            </ul>
            <ul>
              {props.user ? (
                <>
                  <li>{`Signed in as ${props.user.id}${props.user.role === 'group_admin' ? ' (admin)' : ''}`}</li>
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
        <main class="container">{props.children}</main>
      </body>
    </html>
  );
}
