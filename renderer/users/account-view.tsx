import { escapeControlCharacters as visible } from '../../protocol/index.js';
import { useEffect, useState } from 'react';
import { useAccount } from './access-hooks.js';

/** Every user: two-factor sign-in (TOTP) with recovery codes, and "log out everywhere". */
export function AccountView() {
  const account = useAccount((s) => s.account);
  const pending = useAccount((s) => s.pending);
  const recoveryCodes = useAccount((s) => s.recoveryCodes);
  const error = useAccount((s) => s.error);
  const load = useAccount((s) => s.load);
  const startTotp = useAccount((s) => s.startTotp);
  const enableTotp = useAccount((s) => s.enableTotp);
  const disableTotp = useAccount((s) => s.disableTotp);
  const dismissCodes = useAccount((s) => s.dismissRecoveryCodes);
  const logoutEverywhere = useAccount((s) => s.logoutEverywhere);
  const [code, setCode] = useState('');

  useEffect(() => void load(), [load]);
  if (!account) return <section className="access-view" data-testid="account-view" aria-busy="true" />;

  return (
    <section className="access-view" data-testid="account-view">
      <h2>Account: {visible(account.username)}</h2>
      <p>Role <strong data-testid="account-role">{account.role}</strong>; devices: {account.scope ? Object.entries(account.scope).map(([k, v]) => `${k}=${v}`).join(', ') : 'all'}</p>
      <h3>Two-factor sign-in</h3>
      <p data-testid="account-totp-state" data-enabled={account.totpEnabled}>{account.totpEnabled ? 'On: sign-in asks for a code from your authenticator app.' : 'Off.'}</p>
      {!account.totpEnabled && !pending && <button type="button" data-testid="totp-start" onClick={() => void startTotp()}>Set up an authenticator app</button>}
      {pending && (
        <form className="access-form" onSubmit={(e) => { e.preventDefault(); void enableTotp(code.trim()).then(() => setCode('')); }}>
          <p className="wide">Add this account to your authenticator app (paste the URL or type the secret), then enter the code it shows.</p>
          <p className="wide">Secret <code data-testid="totp-secret">{pending.secret}</code></p>
          <p className="wide"><code data-testid="totp-url" className="access-break">{pending.otpauthUrl}</code></p>
          <label>Code<input data-testid="totp-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} /></label>
          <button type="submit" data-testid="totp-enable">Turn on</button>
        </form>
      )}
      {recoveryCodes && (
        <div className="access-once" data-testid="recovery-codes" role="status">
          <p>Recovery codes, shown only now. Each signs you in once if you lose the app; keep them somewhere safe.</p>
          <ul>{recoveryCodes.map((c) => <li key={c}><code data-testid="recovery-code">{c}</code></li>)}</ul>
          <button type="button" data-testid="recovery-codes-done" onClick={dismissCodes}>I have saved them</button>
        </div>
      )}
      {account.totpEnabled && (
        <form className="access-form" onSubmit={(e) => { e.preventDefault(); void disableTotp(code.trim()).then(() => setCode('')); }}>
          <label>Code or recovery code<input data-testid="totp-disable-code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" /></label>
          <button type="submit" data-testid="totp-disable">Turn off</button>
        </form>
      )}
      {error && <p role="alert" className="error" data-testid="account-error" data-code={error.code}>{error.message}</p>}
      <h3>Sessions</h3>
      <button type="button" data-testid="logout-everywhere" onClick={() => void logoutEverywhere()}>Log out everywhere</button>
    </section>
  );
}
