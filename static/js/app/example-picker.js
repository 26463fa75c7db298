// The Example select: the presets grouped by the book's sections, and first a "Your formula" or
// "Custom graph" entry when the graph on screen is not a preset; the description under it.

import { pick, t } from '../viewer/i18n.js';

/** "5.10.2" after "5.4.1": a section number compared part by part, as numbers. */
function compareSections(a, b) {
  const pa = String(a).split('.').map(Number);
  const pb = String(b).split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

/** The presets in the chapter's order (5.2 before 5.4); the same section keeps the server's order. */
export function inChapterOrder(examples) {
  return examples.map((example, i) => [example, i])
    .sort(([a, i], [b, j]) => compareSections(a.section, b.section) || i - j)
    .map(([example]) => example);
}

/** Fills select with the examples (GET /api/examples) and describes the source state holds. */
export function fillExamplePicker(select, description, examples, state) {
  select.replaceChildren();
  const own = state.expression !== null || state.graph || state.training;
  if (own) {
    const option = document.createElement('option');
    option.value = '';
    option.textContent = state.expression !== null ? t('yourFormula') : state.graph ? t('customGraph')
      : t('trainingOption', { iteration: state.training.iteration });
    select.appendChild(option);
  }
  const groups = new Map();
  for (const example of inChapterOrder(examples)) {
    const key = pick(example.group) || example.section;
    if (!groups.has(key)) {
      const group = document.createElement('optgroup');
      group.label = key;
      groups.set(key, group);
      select.appendChild(group);
    }
    const option = document.createElement('option');
    option.value = example.id;
    option.textContent = `${example.section} ${pick(example.title)}`;
    groups.get(key).appendChild(option);
  }
  select.value = own ? '' : state.example;
  const current = examples.find((e) => e.id === state.example);
  description.textContent = state.expression !== null ? t('formulaDescription')
    : state.graph ? t('customDescription') : state.training ? trainingDescription(state.training)
      : current ? pick(current.description) : '';
}

/** What the graph of a training iteration shows, naming the iteration and its run. */
function trainingDescription(training) {
  return t('trainingDescription', {
    iteration: training.iteration, dataset: training.dataset ?? 'digits', hidden: training.hidden_size ?? 50,
    batch: training.batch_size ?? 100, lr: training.learning_rate ?? 0.1, seed: training.seed ?? 0,
  });
}
