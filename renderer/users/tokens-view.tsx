import { useEffect, useState } from 'react';
import { escapeControlCharacters as visible, type TokenCreateRequest } from '../../protocol/index.js';
import { useTokens } from './access-hooks.js';
import { parseScopeText } from './scope-text.js';
import { tokenState } from './token-state.js';

/** Admins: registration tokens. A new token and its install command are shown once, with a copy button. */
export function TokensView() {
  const tokens = useTokens((s) => s.tokens);
  const created = useTokens((s) => s.created);
  const error = useTokens((s) => s.error);
  const load = useTokens((s) => s.load);
  const create = useTokens((s) => s.create);
  const revoke = useTokens((s) => s.revoke);
  const dismiss = useTokens((s) => s.dismissCreated);
  const [form, setForm] = useState({ ttlHours: '24', uses: '1', tags: '', approval: false });
  const [formError, setFormError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  useEffect(() => void load(), [load]);

  const submit = async () => {
    const tags = parseScopeText(form.tags);
    if (typeof tags === 'string') return setFormError(tags);
    const ttl = Number(form.ttlHours);
    const uses = Number(form.uses);
    if (form.ttlHours !== '' && !(ttl > 0)) return setFormError('Time to live is a positive number of hours');
    if (form.uses !== '' && !(Number.isInteger(uses) && uses > 0)) return setFormError('Uses is a positive whole number');
    setFormError(null);
    setCopied(false);
    const request: TokenCreateRequest = {
      ...(form.ttlHours !== '' && { ttlSeconds: Math.round(ttl * 3600) }),
      ...(form.uses !== '' && { uses }),
      ...(tags && { tags }),
      requireApproval: form.approval,
    };
    await create(request);
  };

  const copy = async (text: string) => {
    await navigator.clipboard.writeText(text);
    setCopied(true);
  };

  return (
    <section className="access-view" data-testid="tokens-view">
      <h2>Registration tokens</h2>
      <form className="access-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <label>Valid for (hours, empty = forever)<input data-testid="token-ttl" inputMode="decimal" value={form.ttlHours} onChange={(e) => setForm({ ...form, ttlHours: e.target.value })} /></label>
        <label>Uses (empty = unlimited)<input data-testid="token-uses" inputMode="numeric" value={form.uses} onChange={(e) => setForm({ ...form, uses: e.target.value })} /></label>
        <label>Tags for new devices<input data-testid="token-tags" value={form.tags} onChange={(e) => setForm({ ...form, tags: e.target.value })} placeholder="site=berlin" /></label>
        <label><span><input type="checkbox" data-testid="token-approval" checked={form.approval} onChange={(e) => setForm({ ...form, approval: e.target.checked })} /> Devices wait for approval</span></label>
        <button type="submit" data-testid="token-create">Create token</button>
      </form>
      {(formError ?? error) && <p role="alert" className="error" data-testid="tokens-error">{formError ?? error?.message}</p>}
      {created && (
        <div className="access-once" data-testid="token-created" role="status">
          <p>Shown only now: copy the command and run it on the device.</p>
          <pre data-testid="token-install-command">{created.installCommand}</pre>
          <button type="button" data-testid="token-copy" onClick={() => void copy(created.installCommand)}>{copied ? 'Copied' : 'Copy'}</button>{' '}
          <button type="button" onClick={dismiss}>Done</button>
        </div>
      )}
      {tokens.length === 0 ? (
        <div className="empty-state" data-testid="tokens-empty">
          <p><strong>No registration tokens.</strong> A token lets new devices enrol themselves: the agent presents it once with the backend&apos;s CA pin, and the device appears in the fleet (tagged, or waiting for your approval, as the token says).</p>
          <p>Create one with the form above; its one-line install command is shown once, to copy to the device.</p>
        </div>
      ) : (
      <table className="access-table">
        <thead><tr><th>Id</th><th>Created</th><th>Expires</th><th>Uses</th><th>Tags</th><th>Approval</th><th>State</th><th /></tr></thead>
        <tbody>
          {tokens.map((t) => {
            const state = tokenState(t, Date.now());
            return (
            <tr key={t.id} data-testid="token-row" data-token-id={t.id} data-state={state}>
              <td><code>{t.id}</code></td>
              <td>{new Date(t.createdAt).toLocaleString()}</td>
              <td>{t.expiresAt === null ? 'never' : new Date(t.expiresAt).toLocaleString()}</td>
              <td>{t.uses}{t.maxUses === null ? '' : ` / ${t.maxUses}`}</td>
              <td>{visible(Object.entries(t.tags).map(([k, v]) => `${k}=${v}`).join(', '))}</td>
              <td>{t.requireApproval ? 'yes' : 'no'}</td>
              <td data-testid="token-state"><span className={`badge badge-token-${state.replace(' ', '-')}`}>{state}</span></td>
              <td>{state === 'active' && <button type="button" data-testid="token-revoke" onClick={() => void revoke(t.id)}>Revoke</button>}</td>
            </tr>
            );
          })}
        </tbody>
      </table>
      )}
    </section>
  );
}
