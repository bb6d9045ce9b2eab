import { SHORTCUT_HELP } from './fleet-shortcuts.js';
import { useFleetUiStore } from './fleet-ui-hooks.js';

/** The `?` overlay listing the fleet view's keys. */
export function ShortcutHelp() {
  const ui = useFleetUiStore();
  return (
    <div className="overlay" role="presentation" onClick={() => ui.getState().setHelpOpen(false)}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="shortcut-title" data-testid="shortcut-help" onClick={(e) => e.stopPropagation()}>
        <h3 id="shortcut-title">Keyboard shortcuts</h3>
        <table className="shortcut-table">
          <tbody>
            {SHORTCUT_HELP.map(({ keys, action }) => (
              <tr key={keys}>
                <td>
                  <kbd>{keys}</kbd>
                </td>
                <td>{action}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="dialog-actions">
          <button type="button" onClick={() => ui.getState().setHelpOpen(false)} data-testid="shortcut-help-close" autoFocus>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
