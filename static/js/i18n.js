// English and Japanese for every text on the page. Accessible names of the controls stay in
// English (aria-label, as the issue asks, so tests and assistive tools find them in any
// language); the visible text and tooltips follow the chosen language.

const MESSAGES = {
  en: {
    skip: 'Skip to the graph',
    title: 'Backpropagation, step by step',
    pageTitle: 'backprop-viz: backpropagation on a computational graph',
    example: 'Example',
    language: 'Language',
    raw: 'Raw floats',
    downloadSvg: 'SVG',
    downloadJson: 'Trace JSON',
    graph: 'Computational graph',
    legendValue: 'value (forward)',
    legendGrad: 'gradient (backward)',
    legendUnknown: '? not computed yet',
    speed: 'Speed',
    inputs: 'Inputs',
    inputsHint: 'Edit a value here or click it on the graph.',
    inspector: 'Inspector',
    customGraph: 'Custom graph',
    customDescription: 'A graph given in the link.',
    'tip.first': 'First step (Home)',
    'tip.back': 'Step back (←)',
    'tip.play': 'Play (space)',
    'tip.pause': 'Pause (space)',
    'tip.forward': 'Step forward (→)',
    'tip.last': 'Last step (End)',
    'tip.zoomIn': 'Zoom in',
    'tip.zoomOut': 'Zoom out',
    'tip.fit': 'Fit to window',
    'tip.svg': 'Download the graph as SVG',
    'tip.json': 'Download the trace as JSON',
    stepCounter: 'Step {i} / {n}',
    beforeFirst: 'Before the first step: only the inputs are known.',
    'phase.forward': 'Forward',
    'phase.backward': 'Backward',
    'phase.accumulate': 'Sum at a fork',
    'caption.forward': 'Forward: {node} = {value}',
    'caption.backward': 'Backward through {node}: dout = {dout}',
    'caption.accumulate': 'Gradients of {node} add up: {sum}',
    notComputed: 'not computed yet',
    noGrad: 'no gradient',
    notANumber: 'Not a number: {text}',
    inspectHint: 'Click a node on the graph to inspect it.',
    followStep: 'Follow the step',
    value: 'Value',
    gradient: 'Gradient',
    shape: 'Shape',
    layer: 'Layer',
    formula: 'Formula',
    forwardHeading: 'Forward',
    backwardHeading: 'Backward (chain rule)',
    forkHeading: 'At this fork the gradients add up',
    source: 'Source',
    leaf: 'input',
    constant: 'constant (takes no gradient)',
    tooBig: 'Too big to edit here: {shape}',
    loading: 'Loading…',
    serverError: 'The server refused: {detail}',
    networkError: 'Could not reach the server: {detail}',
    editTitle: 'Click to edit',
    heatmapOf: '{name} {shape}: min {min}, max {max}',
    warnings: 'Warnings',
    corner: 'top-left corner shown',
  },
  ja: {
    skip: 'グラフへ移動',
    title: '誤差逆伝播法をステップごとに',
    pageTitle: 'backprop-viz：計算グラフで見る誤差逆伝播法',
    example: '例',
    language: '言語',
    raw: '丸めない値',
    downloadSvg: 'SVG',
    downloadJson: 'トレース JSON',
    graph: '計算グラフ',
    legendValue: '値（順伝播）',
    legendGrad: '勾配（逆伝播）',
    legendUnknown: '? 未計算',
    speed: '速度',
    inputs: '入力',
    inputsHint: 'ここで値を編集するか、グラフ上の値をクリックしてください。',
    inspector: 'インスペクタ',
    customGraph: 'カスタムグラフ',
    customDescription: 'リンクで指定されたグラフです。',
    'tip.first': '最初のステップ (Home)',
    'tip.back': '1 ステップ戻る (←)',
    'tip.play': '再生 (スペース)',
    'tip.pause': '一時停止 (スペース)',
    'tip.forward': '1 ステップ進む (→)',
    'tip.last': '最後のステップ (End)',
    'tip.zoomIn': '拡大',
    'tip.zoomOut': '縮小',
    'tip.fit': 'ウィンドウに合わせる',
    'tip.svg': 'グラフを SVG でダウンロード',
    'tip.json': 'トレースを JSON でダウンロード',
    stepCounter: 'ステップ {i} / {n}',
    beforeFirst: '最初のステップの前：入力の値だけが分かっています。',
    'phase.forward': '順伝播',
    'phase.backward': '逆伝播',
    'phase.accumulate': '分岐での勾配の和',
    'caption.forward': '順伝播：{node} = {value}',
    'caption.backward': '{node} の逆伝播：dout = {dout}',
    'caption.accumulate': '{node} の勾配を足し合わせる：{sum}',
    notComputed: '未計算',
    noGrad: '勾配なし',
    notANumber: '数値ではありません：{text}',
    inspectHint: 'グラフのノードをクリックすると詳細を表示します。',
    followStep: 'ステップに追従',
    value: '値',
    gradient: '勾配',
    shape: '形状',
    layer: 'レイヤ',
    formula: '式',
    forwardHeading: '順伝播',
    backwardHeading: '逆伝播（連鎖律）',
    forkHeading: 'この分岐では勾配が足し合わされます',
    source: 'ソースコード',
    leaf: '入力',
    constant: '定数（勾配を取らない）',
    tooBig: '大きすぎてここでは編集できません：{shape}',
    loading: '読み込み中…',
    serverError: 'サーバーが拒否しました：{detail}',
    networkError: 'サーバーに接続できません：{detail}',
    editTitle: 'クリックして編集',
    heatmapOf: '{name} {shape}：最小 {min}、最大 {max}',
    warnings: '警告',
    corner: '左上の一部を表示',
  },
};

export const LANGUAGES = Object.keys(MESSAGES);
let current = 'en';

export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : 'en';
  document.documentElement.lang = current;
}

export function language() {
  return current;
}

/** The message for key in the current language, with {name} placeholders filled in. */
export function t(key, params = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ''));
}

/** Picks the current language from a {"en": ..., "ja": ...} object sent by the server. */
export function pick(localised) {
  if (localised === null || localised === undefined) return '';
  if (typeof localised === 'string') return localised;
  return localised[current] ?? localised.en ?? '';
}

/** Re-labels the static page: every element with data-i18n gets its text, data-i18n-title its tooltip. */
export function translatePage(root = document) {
  document.title = t('pageTitle');
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll('[data-i18n-title]').forEach((el) => {
    el.title = t(el.dataset.i18nTitle);
  });
}
