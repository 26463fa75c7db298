// The server's messages in Japanese. The server speaks English (one error model for the API, the
// CLI and Python); the page translates the messages it recognises by their pattern, keeps the
// field and the place ("values.apple", "line 1, column 4") and the names in them as they are,
// and shows any message it does not know in English rather than guess.

// Python's own syntax messages inside "syntax error: ...".
const SYNTAX = [
  [/^invalid syntax$/, () => '文法が正しくありません'],
  [/^'(.)' was never closed$/, (m) => `「${m[1]}」が閉じられていません`],
  [/^unmatched '(.)'$/, (m) => `対応する括弧のない「${m[1]}」があります`],
  [/^invalid decimal literal$/, () => '数値の書き方が正しくありません'],
  [/^unexpected EOF while parsing$/, () => '式が途中で終わっています'],
  [/^unexpected indent$/, () => '行頭に余分な空白があります'],
];

const syntax = (text) => {
  for (const [pattern, make] of SYNTAX) {
    const m = pattern.exec(text);
    if (m) return make(m);
  }
  return text;
};

// A message without its field: the English pattern and the Japanese sentence built from it.
const MESSAGES = [
  [/^syntax error: (.*)$/, (m) => `構文エラー：${syntax(m[1])}`],
  [/^no node with id (.+)$/, (m) => `ID ${m[1]} のノードはありません`],
  [/^no example (.+?); known: (.+)$/, (m) => `例 ${m[1]} はありません（あるもの：${m[2]}）`],
  [/^unknown function (.+?); the functions are (.+)$/, (m) => `関数 ${m[1]} はありません。使える関数は ${m[2]} です`],
  [/^the operator (.+?) is not allowed; use (.+)$/, (m) => `演算子 ${m[1]} は使えません。${m[2]} を使ってください`],
  [/^the operator (.+) is not allowed$/, (m) => `演算子 ${m[1]} は使えません`],
  [/^only the functions (.+) can be called$/, (m) => `呼び出せる関数は ${m[1]} だけです`],
  [/^(\w+)\(\) takes exactly one argument$/, (m) => `${m[1]}() の引数はちょうど1つです`],
  [/^(\w+)\(\) takes no keyword arguments$/, (m) => `${m[1]}() にキーワード引数は使えません`],
  [/^the program is empty; write a formula such as (.+)$/, (m) => `式が空です。${m[1]} のような式を書いてください`],
  [/^a number is too large for a 64-bit float \(at most about 1\.8e308\)$/, () => '数値が大きすぎます（64ビット浮動小数点数で表せるのはおよそ1.8e308まで）'],
  [/^expected a number or a nested list of numbers, got (.+)$/, (m) => `数値か数値の入れ子のリストを指定してください（受け取ったのは ${m[1].replace(/^the string /, '文字列 ')}）`],
  [/^every element must be a number, got (.+)$/, (m) => `すべての要素が数値である必要があります（${m[1]} が含まれています）`],
  [/^x has (\d+) features per sample but W has (\d+) rows(.*)$/, (m) => `x のサンプルあたりの特徴量は ${m[1]} 個ですが、W の行数は ${m[2]} です`],
  [/^shapes (.+) do not broadcast together$/, (m) => `形状 ${m[1].replace(/ and /g, ' と ')} はブロードキャストできません`],
  [/^(.+) is a function; call it, as in (.+)$/, (m) => `${m[1]} は関数です。${m[2]} のように呼び出してください`],
  // ---- the sum over paths (POST /api/paths, paths-panel.js) ----
  [/^node (.+?) has shape (\[[^\]]*\]); the sum over paths is for scalar graphs only/, (m) => `ノード ${m[1]} の形状は ${m[2]} です。経路の和はスカラーだけの計算グラフで求めます（テンソルの辺では局所的な微分が数ではなく行列になるため）`],
  [/^there are ([\d,]+) paths from (.+?) to (.+?), more than the ([\d,]+) this lists/, (m) => `${m[2]} から ${m[3]} への経路は ${m[1]} 本あり、一覧にできる ${m[4]} 本を超えています。誤差逆伝播法は経路を列挙せずに和を求めます（勾配は POST /api/trace で得られます）`],
];

// What may come before the message: "values.apple (node 'apple'): ", "expression: line 1, column 4: ".
const PREFIX = /^((?:[\w.[\]/-]+(?: \(node '[^']*'\))?: )?(?:line (\d+), column (\d+): )?)(.*)$/s;

/**
 * The Japanese of a server message, or null when the page does not know it (shown in English).
 * "expression: line 1, column 4: syntax error: invalid syntax" ->
 * "expression: 1行目 4列目：構文エラー：文法が正しくありません".
 */
export function japaneseServerMessage(detail) {
  const m = PREFIX.exec(String(detail ?? ''));
  if (!m) return null;
  const [, , line, column, rest] = m;
  const field = m[1].replace(/line \d+, column \d+: $/, '');
  for (const [pattern, make] of MESSAGES) {
    const hit = pattern.exec(rest);
    if (hit) return `${field}${line ? `${line}行目 ${column}列目：` : ''}${make(hit)}`;
  }
  return null;
}

/** A server message in the page's language: Japanese when it is known, else as the server wrote it. */
export function serverMessage(detail, lang) {
  return (lang === 'ja' && japaneseServerMessage(detail)) || detail;
}
