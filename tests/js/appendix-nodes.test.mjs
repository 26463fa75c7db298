// Nested expansion on the page (the book's Appendix A): what the inspector's Expand asks for, what
// Collapse leaves in the expand list, which box a nested group is drawn in, and the groups' names.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { expandKey, groupSymbol, groupsOf, parentGroup, withoutGroup } from '../../static/js/viewer/nodes.js';

test('a composite is expanded by its id, one that kept its composite\'s id by id/op', () => {
  assert.equal(expandKey({ id: 'y', op: 'sigmoid', group: null }), 'y');
  assert.equal(expandKey({ id: 'L/softmax', op: 'softmax', group: 'L' }), 'L/softmax');
  // the Cross Entropy Error node of an expanded Softmax-with-Loss L is L too
  assert.equal(expandKey({ id: 'L', op: 'cross_entropy_error', group: 'L' }), 'L/cross_entropy_error');
});

test('collapsing a group collapses the groups expanded inside it, and nothing else', () => {
  const expand = ['affine1', 'L', 'L/softmax', 'L/cross_entropy_error', 'Loss2'];
  assert.deepEqual(withoutGroup(expand, 'L'), ['affine1', 'Loss2']);
  assert.deepEqual(withoutGroup(expand, 'L/softmax'), ['affine1', 'L', 'L/cross_entropy_error', 'Loss2']);
});

test('a nested group sits in the longest group its id starts with', () => {
  const graph = {
    nodes: [
      { id: 'L/softmax/exp', op: 'exp', group: 'L/softmax' },
      { id: 'L/softmax', op: 'mul', group: 'L/softmax' },
      { id: 'L', op: 'cross_entropy_error', group: 'L' },
      { id: 'La/exp', op: 'exp', group: 'La' },
    ],
  };
  const groups = groupsOf(graph);
  assert.equal(parentGroup('L/softmax', groups), 'L');
  assert.equal(parentGroup('L', groups), null);
  assert.equal(parentGroup('La', groups), null); // a prefix of the id, not of a path
});

test('the groups of figure 5-29 and Appendix A are named as the book names them', () => {
  const of = (...ops) => groupSymbol(ops.map((op, i) => ({ id: `n${i}`, op })));
  assert.equal(of('softmax', 'cross_entropy_error'), 'Softmax-with-Loss');
  assert.equal(of('cross_entropy_error'), 'Softmax-with-Loss');
  assert.equal(of('exp', 'sum', 'reciprocal', 'mul'), 'Softmax');
  assert.equal(of('one_hot', 'log', 'mul', 'sum', 'input', 'mul', 'mean'), 'Cross Entropy Error');
  assert.equal(of('input', 'mul', 'exp', 'input', 'add', 'reciprocal'), 'sigmoid');
  assert.equal(of('matmul', 'add'), 'Affine');
});
