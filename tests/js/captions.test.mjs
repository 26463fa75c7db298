// The step captions without a browser: each step in a sentence in the book's terms, the summary
// of what the gradients mean, and no gradient printed when a host hides them (practice mode).
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gradientSummary, stepSentence } from '../../static/js/viewer/captions.js';
import { setLanguage } from '../../static/js/viewer/i18n.js';

const named = (id, en, ja, rest) => ({ id, label: id, labels: { en, ja }, ...rest });

/** The book's apple graph (figure 5-16): 100 × 2 × 1.1, dprice = 1. */
function appleTrace(dout = 1) {
  const nodes = [
    named('apple', 'apple', 'リンゴ', { op: 'input', inputs: [] }),
    named('apple_num', 'number of apples', 'リンゴの個数', { op: 'input', inputs: [] }),
    named('apple_price', 'price of the apples', 'リンゴの金額', { op: 'mul', symbol: '×', inputs: ['apple', 'apple_num'] }),
    named('tax', 'tax', '消費税', { op: 'input', inputs: [] }),
    named('price', 'price to pay', '支払金額', { op: 'mul', symbol: '×', inputs: ['apple_price', 'tax'] }),
  ];
  const dApplePrice = dout * 1.1;
  return {
    graph: { nodes, edges: [], output: 'price' },
    dout,
    values: { apple: 100, apple_num: 2, apple_price: 200, tax: 1.1, price: 220 },
    grads: { apple: dApplePrice * 2, apple_num: dApplePrice * 100, apple_price: dApplePrice, tax: dout * 200, price: dout },
    steps: [
      { phase: 'forward', index: 0, node: 'apple_price', inputs: [{ source: 'apple', value: 100 }, { source: 'apple_num', value: 2 }], out: 200 },
      { phase: 'forward', index: 1, node: 'price', inputs: [{ source: 'apple_price', value: 200 }, { source: 'tax', value: 1.1 }], out: 220 },
      {
        phase: 'backward', index: 2, node: 'price', dout,
        edges: [{ source: 'apple_price', port: 0, local: 1.1, grad: dApplePrice }, { source: 'tax', port: 1, local: 200, grad: dout * 200 }],
      },
      {
        phase: 'backward', index: 3, node: 'apple_price', dout: dApplePrice,
        edges: [{ source: 'apple', port: 0, local: 2, grad: dApplePrice * 2 }, { source: 'apple_num', port: 1, local: 100, grad: dApplePrice * 100 }],
      },
    ],
  };
}

const MEANING = {
  output: { en: 'the price to pay', ja: '支払金額' },
  unit: { en: ' yen', ja: '円' },
  inputs: {
    apple: { what: { en: 'the price of an apple', ja: 'リンゴの値段' }, change: { en: 'goes up by 1 yen', ja: '1円上がる' }, step: 1 },
  },
};

test('in Japanese, the mul node swaps its inputs, in the book’s words and numbers', () => {
  setLanguage('ja');
  const trace = appleTrace();
  assert.equal(
    stepSentence(trace, trace.steps[0]),
    '順伝播：乗算ノードで リンゴ × リンゴの個数 = 100 × 2 = 200 を計算し、リンゴの金額として次のノードへ流します。',
  );
  assert.equal(
    stepSentence(trace, trace.steps[3]),
    '逆伝播（リンゴの金額）：乗算ノードの逆伝播は、上流の値 1.1 に入力を「ひっくり返した」値を掛けて下流へ流します：'
      + 'リンゴへ 1.1 × 2 = 2.2、リンゴの個数へ 1.1 × 100 = 110。',
  );
  assert.equal(gradientSummary(trace, { meaning: MEANING }), 'まとめ：リンゴの値段が1円上がると、支払金額は2.2円増えます。');
});

test('a negative gradient is told as a decrease, with its size', () => {
  setLanguage('ja');
  // Give back two apples (apple_num = -2): d price / d apple = 1.1 × (-2) = -2.2.
  const trace = appleTrace();
  trace.values.apple_num = -2;
  trace.grads.apple = 1.1 * -2;
  assert.equal(gradientSummary(trace, { meaning: MEANING }), 'まとめ：リンゴの値段が1円上がると、支払金額は2.2円減ります。');
  setLanguage('en');
  assert.equal(
    gradientSummary(trace, { meaning: MEANING }),
    'What the gradients mean: If the price of an apple goes up by 1 yen, the price to pay goes down by 2.2 yen.',
  );
  // No preset words: the generic sentence, per input, in the graph's order.
  assert.match(gradientSummary(trace), /^What the gradients mean: If apple grows a little, price to pay shrinks by about 2\.2 times as much\./);
});

test('with gradients hidden, no caption prints one and there is no summary', () => {
  setLanguage('en');
  const trace = appleTrace(1.3);
  const hidden = { showGradients: false };
  const sentences = trace.steps.map((step) => stepSentence(trace, step, hidden));
  assert.match(sentences[0], /= 100 × 2 = 200/); // values stay
  for (const text of sentences.slice(2)) {
    assert.doesNotMatch(text, /1\.3|1\.43|2\.86|143|260/);
    assert.match(text, /\?/);
  }
  // The swapped input values are values, not gradients: they stay.
  assert.match(sentences[3], /apple gets \? × 2 = \?/);
  assert.equal(gradientSummary(trace, { ...hidden, meaning: MEANING }), null);
});

test('with another upstream gradient the summary says what the gradients measure', () => {
  setLanguage('ja');
  const trace = appleTrace(1.3);
  // 1.3 × 1.1 × 2 = 2.86: the gradient of 1.3 × 支払金額, not yen of the price itself.
  assert.match(gradientSummary(trace, { meaning: MEANING }), /^まとめ：リンゴが少し増えると、1\.3 × 支払金額はその約2\.86倍だけ増えます。/);
});

test('practice hides gradients one by one: an answered dout prints, the edges still asked do not', () => {
  setLanguage('en');
  const trace = appleTrace();
  const step = trace.steps[3];
  step.edges[0].edge = 'apple->apple_price:0';
  step.edges[1].edge = 'apple_num->apple_price:1';
  // dout of apple_price (1.1) is answered; the gradient sent to apple is not, apple_num's is.
  const hidden = (target) => target.edge === 'apple->apple_price:0';
  const text = stepSentence(trace, step, { hidden });
  assert.match(text, /the upstream value 1\.1 /);
  assert.match(text, /apple gets 1\.1 × 2 = \?/);
  assert.match(text, /number of apples gets 1\.1 × 100 = 110/);
  assert.doesNotMatch(text, /2\.2/);
  // The node's own gradient hidden: its dout is "?" everywhere in the sentence.
  const doutHidden = stepSentence(trace, step, { hidden: (target) => target.node === 'apple_price' });
  assert.doesNotMatch(doutHidden, /1\.1/);
  assert.match(doutHidden, /apple gets \? × 2 = 2\.2/);
});
