// What is known at each position of the player. Position p means "steps 0..p-1 have run":
// p = 0 is before any step (only the leaves are known), p = steps.length is the end.
// Everything here is read from the trace; the page never recomputes a number.

import { tangentTimeline } from './tangents.js';

/**
 * Indexes a trace once so each step of the player is a few lookups:
 *  valueAt[node]   index of the step that computes the node's value (-1 for leaves)
 *  edgeGradAt[e]   index of the backward step of the edge's consumer (its gradient is produced there)
 *  nodeGradAt[n]   when the node's total gradient is known (accumulate step, else its only
 *                  outgoing edge's gradient, the output at the first backward step)
 */
export function buildTimeline(trace) {
  const { graph, steps } = trace;
  const valueAt = {};
  const edgeGradAt = {};
  const edgeGrad = {};
  const nodeGradAt = {};
  const stepsOf = {};
  const outgoing = {};
  const incoming = {};

  for (const node of graph.nodes) {
    valueAt[node.id] = node.op === 'input' ? -1 : Infinity;
    nodeGradAt[node.id] = Infinity;
    stepsOf[node.id] = {};
    outgoing[node.id] = [];
    incoming[node.id] = [];
  }
  for (const edge of graph.edges) {
    edgeGradAt[edge.id] = Infinity;
    outgoing[edge.source].push(edge);
    incoming[edge.target].push(edge);
  }

  let firstBackward = Infinity;
  for (const step of steps) {
    stepsOf[step.node][step.phase] = step;
    if (step.phase === 'forward') {
      valueAt[step.node] = step.index;
    } else if (step.phase === 'backward') {
      firstBackward = Math.min(firstBackward, step.index);
      for (const e of step.edges || []) {
        edgeGradAt[e.edge] = step.index;
        edgeGrad[e.edge] = e.grad;
      }
    } else if (step.phase === 'accumulate') {
      nodeGradAt[step.node] = step.index;
    }
  }
  for (const node of graph.nodes) {
    if (node.id === graph.output) {
      nodeGradAt[node.id] = firstBackward;
    } else if (!stepsOf[node.id].accumulate && outgoing[node.id].length === 1) {
      nodeGradAt[node.id] = edgeGradAt[outgoing[node.id][0].id];
    }
  }
  // The output's gradient is dout; it flows out of the graph's last edge at the first backward step.
  // Forward mode: when each tangent d node / d wrt is known (null for a reverse-mode trace).
  const tangent = tangentTimeline(trace);
  return { steps, valueAt, edgeGradAt, edgeGrad, nodeGradAt, stepsOf, outgoing, incoming, firstBackward, tangent };
}

/** The step that has just run at position p, or null before the first step. */
export function currentStep(timeline, p) {
  return p > 0 ? timeline.steps[p - 1] || null : null;
}

export const isValueKnown = (tl, node, p) => tl.valueAt[node] < p;
export const isEdgeGradKnown = (tl, edge, p) => tl.edgeGradAt[edge] < p;
export const isNodeGradKnown = (tl, node, p) => tl.nodeGradAt[node] < p;

/**
 * What position p of a timeline means, so it can be found again in a new timeline (after an
 * expand or collapse): the node and phase of its step, the node's composite, and the fraction
 * of the timeline; atEnd when p is the end.
 */
export function anchorOf(trace, timeline, p) {
  const step = currentStep(timeline, p);
  const node = step && trace.graph.nodes.find((n) => n.id === step.node);
  return {
    atEnd: p >= trace.steps.length,
    node: step ? step.node : null,
    group: node ? node.group : null,
    phase: step ? step.phase : null,
    fraction: trace.steps.length ? p / trace.steps.length : 0,
  };
}

/**
 * Where an anchor (see anchorOf) is in a new trace: the end if it was at the end; the step of
 * the same node and phase; for a node gone into or out of a group, its composite's (collapse)
 * or the group's member with that phase (expand); else the same fraction of the timeline.
 */
export function anchoredPosition(anchor, trace) {
  const { steps } = trace;
  if (anchor.atEnd) return steps.length;
  if (!anchor.node) return Math.round(anchor.fraction * steps.length);
  const find = (test) => steps.findIndex(test) + 1;
  const phases = [anchor.phase, anchor.phase === 'accumulate' ? 'backward' : null].filter(Boolean);
  for (const phase of phases) {
    let p = find((s) => s.node === anchor.node && s.phase === phase);
    if (!p && anchor.group) p = find((s) => s.node === anchor.group && s.phase === phase);
    if (!p) {
      // Expanded: the composite's primitives; forward ends at its last member, backward starts at its first.
      const members = new Set(trace.graph.nodes.filter((n) => n.group === anchor.node).map((n) => n.id));
      const hits = steps.map((s, i) => (members.has(s.node) && s.phase === phase ? i + 1 : 0)).filter(Boolean);
      if (hits.length) p = phase === 'forward' ? hits[hits.length - 1] : hits[0];
    }
    if (p) return p;
  }
  return Math.round(anchor.fraction * steps.length);
}
