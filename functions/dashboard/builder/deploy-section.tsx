// The builder's Deploy section: the button to the deploy form and the project's latest deployments.
import { raw } from 'hono/html';
import type { DeploymentView } from '../../services/deployments.ts';
import { DEPLOYMENT_CSS } from '../assets/deployment.ts';
import { DataTable } from '../components/data-table.tsx';
import { formatDate } from '../components/dates.ts';
import { deploymentUrl, deployUrl } from '../components/urls.ts';

const SHOWN_DEPLOYMENTS = 10;

export function DeploySection(props: { projectId: number; deployments: DeploymentView[] }) {
  const shown = props.deployments.slice(0, SHOWN_DEPLOYMENTS);
  return (
    <section aria-labelledby="deploy-title">
      <style>{raw(DEPLOYMENT_CSS)}</style>
      <h2 id="deploy-title">Deploy</h2>
      <p>
        <a href={deployUrl(props.projectId)} role="button">
          Deploy this stack
        </a>
      </p>
      <DataTable
        rows={shown}
        empty="Not deployed yet."
        columns={[
          { label: 'Deployment', cell: (d) => <a href={deploymentUrl(props.projectId, d.id)}>{`Deployment ${d.id}`}</a> },
          { label: 'Status', cell: (d) => <span class={`deploy-status status-${d.status}`}>{d.status}</span> },
          { label: 'Progress', cell: (d) => (d.progress === null ? '—' : `${d.progress}%`) },
          { label: 'Started', cell: (d) => formatDate(d.created_at) },
        ]}
      />
      {props.deployments.length > shown.length && <p>{`And ${props.deployments.length - shown.length} older ones.`}</p>}
    </section>
  );
}
