import { describe, expect, it } from 'vitest';
import { createFleetUiStore } from './fleet-ui-store.js';

const shown = ['a', 'b', 'c', 'd', 'e'];
const selected = (store: ReturnType<typeof createFleetUiStore>) => [...store.getState().selected].sort();

describe('fleet UI store', () => {
  it('toggles rows and replaces the set, so only flipped rows see a change', () => {
    const ui = createFleetUiStore();
    const before = ui.getState().selected;
    ui.getState().toggle('b');
    expect(ui.getState().selected).not.toBe(before);
    expect(selected(ui)).toEqual(['b']);
    ui.getState().toggle('b');
    expect(selected(ui)).toEqual([]);
  });

  it('selects a shift-click range from the anchor in the shown order, either direction', () => {
    const ui = createFleetUiStore();
    ui.getState().toggle('b');
    ui.getState().selectRange('d', shown);
    expect(selected(ui)).toEqual(['b', 'c', 'd']);
    ui.getState().clearSelection();
    ui.getState().toggle('e');
    ui.getState().selectRange('c', shown);
    expect(selected(ui)).toEqual(['c', 'd', 'e']);
  });

  it('treats a range without an anchor as a toggle, and ignores a row not shown', () => {
    const ui = createFleetUiStore();
    ui.getState().selectRange('c', shown);
    expect(selected(ui)).toEqual(['c']);
    ui.getState().selectRange('zz', shown);
    expect(selected(ui)).toEqual(['c']);
  });

  it('selects all shown rows and drops selected rows a new filter hides', () => {
    const ui = createFleetUiStore();
    ui.getState().selectAll(shown);
    expect(selected(ui)).toEqual(shown);
    ui.getState().retainSelection(['a', 'e']);
    expect(selected(ui)).toEqual(['a', 'e']);
  });

  it('moves the cursor within bounds, starting at the first row', () => {
    const ui = createFleetUiStore();
    ui.getState().moveCursor(1, shown);
    expect(ui.getState().cursor).toBe('a');
    ui.getState().moveCursor(1, shown);
    ui.getState().moveCursor(10, shown);
    expect(ui.getState().cursor).toBe('e');
    ui.getState().moveCursor(-1, shown);
    expect(ui.getState().cursor).toBe('d');
    ui.getState().moveCursor(1, []);
    expect(ui.getState().cursor).toBe('d');
  });

  it('flips the sort direction on the same key and resets it on another', () => {
    const ui = createFleetUiStore();
    ui.getState().sortBy('name');
    expect(ui.getState().sort).toEqual({ key: 'name', descending: true });
    ui.getState().sortBy('lastSeen');
    expect(ui.getState().sort).toEqual({ key: 'lastSeen', descending: false });
  });

  it('opens details on a row and moves the cursor there', () => {
    const ui = createFleetUiStore();
    ui.getState().openDetails('c');
    expect(ui.getState()).toMatchObject({ detailsId: 'c', cursor: 'c' });
    ui.getState().openDetails(null);
    expect(ui.getState()).toMatchObject({ detailsId: null, cursor: 'c' });
  });
});
