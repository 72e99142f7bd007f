// The upload page: each dropped or picked file is uploaded by the client
// package, with a progress bar, its phase, rate and time left, then a link.

import { upload } from './client/index.js';
import { browserPlatform } from './client/platforms/browser.js';

const platform = browserPlatform();
const authRequired = document.body.dataset.auth === 'on';
const tokenInput = document.getElementById('token');
const drop = document.getElementById('drop');
const pick = document.getElementById('pick');
const list = document.getElementById('uploads');
const template = document.getElementById('row');

if (authRequired) {
  document.getElementById('token-row').hidden = false;
  tokenInput.value = sessionStorage.getItem('ferry-token') ?? '';
  tokenInput.addEventListener('change', () => sessionStorage.setItem('ferry-token', tokenInput.value.trim()));
}

function token({ refresh }) {
  const value = tokenInput.value.trim();
  if (refresh) tokenInput.focus();
  return value || null;
}

pick.addEventListener('change', () => {
  for (const file of pick.files) start(file);
  pick.value = '';
});
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  for (const file of event.dataTransfer.files) start(file);
});

function start(file) {
  const row = template.content.firstElementChild.cloneNode(true);
  const part = (name) => row.querySelector(name);
  part('.name').textContent = file.name;
  part('.size').textContent = bytes(file.size);
  list.prepend(row);
  const task = upload({ server: location.origin, file, platform, token: authRequired ? token : undefined });
  let held = null;
  task.onProgress((event) => {
    const bar = part('progress');
    bar.value = event.bytesTotal === 0 ? 1 : event.bytesDone / event.bytesTotal;
    row.dataset.phase = event.phase;
    if (event.phase === 'uploading' && held === null) held = event.bytesDone;
    part('.phase').textContent = event.phase + (event.phase === 'uploading' && held > 0 ? ' (resumed)' : '');
    const rate = event.rate > 0 ? `${bytes(event.rate)}/s` : '';
    const eta = event.eta !== null && event.eta > 0 ? `${duration(event.eta)} left` : '';
    part('.numbers').textContent = [`${bytes(event.bytesDone)} of ${bytes(event.bytesTotal)}`, rate, eta].filter(Boolean).join(' · ');
  });
  part('.pause').addEventListener('click', () => {
    if (task.paused) task.resume();
    else task.pause();
    part('.pause').textContent = task.paused ? 'Resume' : 'Pause';
    part('.phase').textContent = task.paused ? 'paused' : row.dataset.phase;
  });
  part('.cancel').addEventListener('click', () => task.abort());
  task.done.then(
    (result) => {
      row.classList.add('done');
      row.dataset.sha256 = result.sha256;
      part('.phase').textContent = result.sentBytes < result.size ? `done, ${bytes(result.reusedBytes)} were already there` : 'done';
      part('.numbers').textContent = `${bytes(result.size)} in ${duration(result.seconds)}`;
      part('.actions').hidden = true;
      part('.link').hidden = false;
      part('.url').value = result.url;
      part('.copy').addEventListener('click', async () => {
        await navigator.clipboard?.writeText(result.url).catch(() => part('.url').select());
        part('.copy').textContent = 'Copied';
      });
    },
    (error) => {
      row.classList.add('failed');
      part('.actions').hidden = true;
      part('.phase').textContent = error.name === 'AbortError' ? 'cancelled' : `failed: ${error.message}`;
    },
  );
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? n : n.toFixed(1)} ${units[unit]}`;
}

function duration(seconds) {
  if (seconds < 1) return `${seconds.toFixed(1)} s`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
