import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ListError } from './files-view.js';

const render = (code: Parameters<typeof ListError>[0]['error']['code'], message = 'm') => renderToStaticMarkup(<ListError error={{ code, message }} onRetry={() => undefined} />);

describe('the Files tab states a listing error as what to do', () => {
  it('tells a viewer the role has no access, as a status rather than an error', () => {
    const html = render('FORBIDDEN', 'Not allowed');
    expect(html).toContain('data-testid="files-no-access"');
    expect(html).toContain('role="status"');
    expect(html).toContain('operator role');
    expect(html).not.toContain('Not allowed');
  });

  it('says an offline device can be listed once it reconnects, with a retry', () => {
    const html = render('DEVICE_OFFLINE');
    expect(html).toContain('data-testid="files-device-offline"');
    expect(html).toContain('Try again');
  });

  it('points a path outside the roots to the allowed directories', () => {
    const html = render('PATH_NOT_ALLOWED', 'This path is outside the allowed directories');
    expect(html).toContain('This path is outside the allowed directories.');
    expect(html).toContain('fileRoots');
  });

  it("shows any other error's message with a retry", () => {
    const html = render('REQUEST_TIMEOUT', 'The device did not answer in time');
    expect(html).toContain('role="alert"');
    expect(html).toContain('data-code="REQUEST_TIMEOUT"');
    expect(html).toContain('The device did not answer in time');
  });
});
