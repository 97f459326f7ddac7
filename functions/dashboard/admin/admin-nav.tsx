// The admin sections' own navigation, on each admin page.
export const AdminNav = () => (
  <nav aria-label="Admin sections">
    <ul>
      <li>
        <a href="/admin">Admin</a>
      </li>
      <li>
        <a href="/admin/projects">All projects</a>
      </li>
      <li>
        <a href="/admin/catalog">App catalog</a>
      </li>
      <li>
        <a href="/admin/clients">All API clients</a>
      </li>
    </ul>
  </nav>
);
