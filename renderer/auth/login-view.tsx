import { useEffect, useState, type FormEvent } from 'react';
import { useAuthPhase, useLogin, useLoginError } from './auth-hooks.js';

export function LoginView() {
  const login = useLogin();
  const error = useLoginError();
  const busy = useAuthPhase() === 'signing-in';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  // Once the backend said TOTP_REQUIRED the code field stays, also while the next attempt runs.
  const [askCode, setAskCode] = useState(false);
  useEffect(() => {
    if (error?.code === 'TOTP_REQUIRED') setAskCode(true);
  }, [error]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const second = code.trim();
    // Six digits are an authenticator code; anything else is taken as a recovery code.
    const factor = second === '' ? {} : /^\d{6}$/.test(second) ? { totp: second } : { recoveryCode: second };
    void login({ username: username.trim(), password, ...factor });
  };

  return (
    <main className="login-page">
      {/* noValidate: the store checks the fields, so every refusal shows in the same place. */}
      <form className="login-card" onSubmit={submit} noValidate aria-busy={busy}>
        <h1 className="login-title">Tether</h1>
        <p className="login-subtitle">Sign in to the fleet console</p>
        <label className="field">
          <span>Username</span>
          <input
            data-testid="login-username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            required
            autoFocus
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            data-testid="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        {askCode && (
          <label className="field">
            <span>Authentication code (or a recovery code)</span>
            <input
              data-testid="login-totp"
              name="totp"
              inputMode="numeric"
              autoComplete="one-time-code"
              autoFocus
              value={code}
              onChange={(event) => setCode(event.target.value)}
            />
          </label>
        )}
        {error !== null && (
          <p className="login-error" role="alert" data-testid="login-error" data-code={error.code}>
            {error.message}
          </p>
        )}
        <button className="primary" type="submit" data-testid="login-submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
