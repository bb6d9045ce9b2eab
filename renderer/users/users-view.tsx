import { useEffect, useState } from 'react';
import { escapeControlCharacters as visible, Role, type UserInfo } from '../../protocol/index.js';
import { FieldError, fieldProps } from '../api/field-error.js';
import { useCurrentUser } from '../auth/auth-hooks.js';
import { useUsers } from './access-hooks.js';
import { parseScopeText, scopeText } from './scope-text.js';

const ROLES = Role.options;

/** Admins: list users, add one, change role or scope, reset a password, delete. */
export function UsersView() {
  const users = useUsers((s) => s.users);
  const error = useUsers((s) => s.error);
  const load = useUsers((s) => s.load);
  const create = useUsers((s) => s.create);
  const [form, setForm] = useState({ username: '', password: '', role: 'viewer' as Role, scope: '' });
  const [formError, setFormError] = useState<string | null>(null);

  useEffect(() => void load(), [load]);

  const submit = async () => {
    const scope = parseScopeText(form.scope);
    if (typeof scope === 'string') return setFormError(scope);
    setFormError(null);
    if (await create({ username: form.username.trim(), password: form.password, role: form.role, scope })) setForm({ username: '', password: '', role: 'viewer', scope: '' });
  };

  return (
    <section className="access-view" data-testid="users-view">
      <h2>Users</h2>
      <form className="access-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <label>Username<input data-testid="user-new-name" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} autoComplete="off" {...fieldProps(error, 'user-new', '/username')} /><FieldError error={error} form="user-new" field="/username" /></label>
        <label>Password (8+)<input data-testid="user-new-password" type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} autoComplete="new-password" {...fieldProps(error, 'user-new', '/password')} /><FieldError error={error} form="user-new" field="/password" /></label>
        <label>Role<select data-testid="user-new-role" value={form.role} onChange={(e) => setForm({ ...form, role: Role.parse(e.target.value) })}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label>Scope (tags, empty = all)<input data-testid="user-new-scope" value={form.scope} onChange={(e) => setForm({ ...form, scope: e.target.value })} placeholder="site=berlin" /></label>
        <button type="submit" data-testid="user-add">Add user</button>
      </form>
      {(formError ?? (error?.field === undefined ? error : null)) && <p role="alert" className="error" data-testid="users-error" data-code={error?.code}>{formError ?? error?.message}</p>}
      <table className="access-table">
        <thead><tr><th>User</th><th>Role</th><th>Scope</th><th>2FA</th><th>Created</th><th /></tr></thead>
        <tbody>{users.map((u) => <UserRow key={u.id} user={u} />)}</tbody>
      </table>
    </section>
  );
}

function UserRow({ user }: { user: UserInfo }) {
  const me = useCurrentUser();
  const update = useUsers((s) => s.update);
  const remove = useUsers((s) => s.remove);
  const [scope, setScope] = useState(scopeText(user.scope));
  const saveScope = () => {
    const parsed = parseScopeText(scope);
    if (typeof parsed !== 'string') void update(user.id, { scope: parsed });
  };
  return (
    <tr data-testid="user-row" data-username={user.username}>
      <td>{visible(user.username)}{me?.id === user.id ? ' (you)' : ''}</td>
      <td>
        <select data-testid="user-role" aria-label={`Role of ${visible(user.username)}`} value={user.role} onChange={(e) => void update(user.id, { role: Role.parse(e.target.value) })}>
          {ROLES.map((r) => <option key={r}>{r}</option>)}
        </select>
      </td>
      <td>
        <input data-testid="user-scope" aria-label={`Scope of ${visible(user.username)}`} value={scope} onChange={(e) => setScope(e.target.value)} onBlur={saveScope} placeholder="all devices" />
      </td>
      <td data-testid="user-totp">{user.totpEnabled ? 'on' : 'off'}</td>
      <td>{new Date(user.createdAt).toLocaleDateString()}</td>
      <td>
        <button type="button" data-testid="user-delete" onClick={() => { if (window.confirm(`Delete ${visible(user.username)}?`)) void remove(user.id); }}>Delete</button>
      </td>
    </tr>
  );
}
