// The notebook widget (anywidget): the viewer mounted on the cell's element, its trace and op
// catalogue synced from the kernel. An edit of a leaf on the graph goes to the kernel as a
// message; the kernel re-traces and sets a new trace, which the viewer shows without re-layout.
//
//   model state: trace (the body of POST /api/trace), ops (GET /api/ops), lang ('en' | 'ja')
//   messages to the kernel: {type: 'valueedit', node, value}
//   state from the kernel: error (a refused edit's message, '' when none)

import { mountViewer } from '../viewer/viewer.js';

function render({ model, el }) {
  const host = document.createElement('div');
  host.className = 'bpv-widget';
  const error = document.createElement('p');
  error.className = 'bpv-widget-error';
  error.setAttribute('role', 'alert');
  el.append(host, error);
  const viewer = mountViewer(host, {
    trace: model.get('trace'),
    ops: model.get('ops'),
    lang: model.get('lang') || 'en',
  });
  viewer.on('valueedit', ({ node, value }) => {
    model.send({ type: 'valueedit', node, value });
  });
  const onTrace = () => viewer.update(model.get('trace'));
  const onError = () => {
    error.textContent = model.get('error') || '';
  };
  onError();
  model.on('change:trace', onTrace);
  model.on('change:error', onError);
  return () => {
    model.off('change:trace', onTrace);
    model.off('change:error', onError);
    viewer.destroy?.();
  };
}

export default { render };
