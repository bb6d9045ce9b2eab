import { useEffect, useState } from 'react';
import { auditSearch } from './access-api.js';
import { useAudit } from './access-hooks.js';
import type { AuditFilters } from './access-stores.js';

interface FilterForm { actor: string; action: string; target: string; since: string; until: string }
const EMPTY: FilterForm = { actor: '', action: '', target: '', since: '', until: '' };

function filtersOf(form: FilterForm): AuditFilters {
  const time = (s: string) => (s === '' ? undefined : new Date(s).getTime());
  const text = (s: string) => (s.trim() === '' ? undefined : s.trim());
  return { actor: text(form.actor), action: text(form.action), target: text(form.target), since: time(form.since), until: time(form.until) };
}

/** Admins: the audit log, filtered, newest first, in pages; the same selection downloads as JSON lines. */
export function AuditView() {
  const entries = useAudit((s) => s.entries);
  const error = useAudit((s) => s.error);
  const nextBefore = useAudit((s) => s.nextBefore);
  const pageIndex = useAudit((s) => s.cursors.length);
  const filters = useAudit((s) => s.filters);
  const search = useAudit((s) => s.search);
  const next = useAudit((s) => s.next);
  const previous = useAudit((s) => s.previous);
  const [form, setForm] = useState<FilterForm>(EMPTY);

  useEffect(() => void search({}), [search]);

  const field = (key: keyof FilterForm, type = 'text') => ({
    'data-testid': `audit-filter-${key}`,
    type,
    value: form[key],
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [key]: e.target.value }),
  });

  return (
    <section className="access-view" data-testid="audit-view">
      <h2>Audit log</h2>
      <form className="access-form" onSubmit={(e) => { e.preventDefault(); void search(filtersOf(form)); }}>
        <label>Actor<input {...field('actor')} placeholder="user:admin" /></label>
        <label>Action<input {...field('action')} placeholder="shell.* or user.create" /></label>
        <label>Target<input {...field('target')} placeholder="dev_… or user:…" /></label>
        <label>Since<input {...field('since', 'datetime-local')} /></label>
        <label>Until<input {...field('until', 'datetime-local')} /></label>
        <button type="submit" data-testid="audit-search">Search</button>
        <a className="button" data-testid="audit-export" href={`/api/v1/audit/export${auditSearch(filters)}`} download="tether-audit.jsonl">Export JSON lines</a>
      </form>
      {error && <p role="alert" className="error" data-testid="audit-error">{error.message}</p>}
      <table className="access-table">
        <thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Details</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-testid="audit-row" data-action={e.action}>
              <td>{new Date(e.ts).toLocaleString()}</td>
              <td>{e.actor}</td>
              <td data-testid="audit-action">{e.action}</td>
              <td>{e.target ?? ''}</td>
              <td><code>{JSON.stringify(e.details)}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="access-pager">
        <button type="button" data-testid="audit-previous" disabled={pageIndex < 2} onClick={() => void previous()}>Newer</button>{' '}
        <span data-testid="audit-page">Page {pageIndex}</span>{' '}
        <button type="button" data-testid="audit-next" disabled={nextBefore === null} onClick={() => void next()}>Older</button>
      </p>
    </section>
  );
}
