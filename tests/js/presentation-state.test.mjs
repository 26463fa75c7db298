// Presentation mode in the link (static/js/app/state.js): present=1 is read and written, left
// out when off, and it is no part of what is traced (the trace body stays the same).
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isStateHash, readState, sourceOf, stateToHash } from '../../static/js/app/state.js';

const at = (hash) => ({ search: '', hash });

test('present=1 survives the link; off, it is left out', () => {
  const state = readState(at('#example=apple&step=3&present=1'));
  assert.equal(state.present, true);
  assert.equal(state.step, 3);
  assert.equal(stateToHash(state), '#example=apple&step=3&present=1');
  state.present = false;
  assert.equal(stateToHash(state), '#example=apple&step=3');
  assert.equal(readState(at('#example=apple&present=0')).present, false);
  assert.ok(isStateHash('#example=apple&present=1'));
});

test('the mode is not part of the source traced', () => {
  const on = readState(at('#example=relu&present=1'));
  const off = readState(at('#example=relu'));
  assert.deepEqual(sourceOf(on), sourceOf(off));
});
