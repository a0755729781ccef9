// Start page of the desktop window. The app calls window.mailroomShow(state,
// detail) while it looks for the server: state is "starting", "waiting",
// "stopped" or "error"; detail is the server's own words, shown as they are.
// The page opens in the state named after # in its address.
'use strict';
(function () {
  var ru = (navigator.language || '').toLowerCase().indexOf('ru') === 0;
  var text = {
    starting: ru ? 'Запускаем почтовый сервер…' : 'Starting the mail server…',
    waiting: ru ? 'Подключаемся к почтовому серверу…' : 'Connecting to the mail server…',
    error: ru ? 'Почтовый сервер не запустился.' : 'The mail server did not start.',
    stopped: ru
      ? 'Почтовый сервер остановился. Выберите «Запустить сервер» в меню значка Mailroom рядом с часами.'
      : 'The mail server has stopped. Choose Start server in the menu of the Mailroom icon next to the clock.'
  };
  window.mailroomShow = function (state, detail) {
    document.body.className = state === 'error' || state === 'stopped' ? 'error' : '';
    document.getElementById('message').textContent = text[state] || text.starting;
    document.getElementById('detail').textContent = detail || '';
  };
  window.mailroomShow((location.hash || '#starting').slice(1), '');
})();
