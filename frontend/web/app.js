// ProfAI web page: one page, plain JavaScript, talking to the REST API of the same origin
// (docs/api.md, docs/web.md).
//
// Rules kept throughout:
// - Text that comes from the server is put in the page with textContent or createTextNode,
//   never as HTML. The one exception is the search snippet, whose <mark> markers are parsed
//   here into <mark> elements while everything around them stays text (snippetNodes).
//   The Content-Security-Policy also requires Trusted Types with no policy, so an innerHTML
//   assignment would throw rather than render.
// - Every failed API call ends in a sentence a person understands (describeError).
// - The token is kept in localStorage under TOKEN_KEY and sent only as a bearer token to this
//   origin; "Sign out" forgets it.
// - A sign-in with name and password holds a session cookie (HttpOnly: this page never sees
//   it); requests that change something carry the session's CSRF token (docs/api.md 2.1).
//   SESSION_KEY only remembers that a session may exist, so that a reload asks /me once.
'use strict';

(function () {
    const API = '/api/v1';
    const TOKEN_KEY = 'profai.token';
    const SESSION_KEY = 'profai.session';
    const TOKEN_RE = /^pai_[A-Za-z0-9_-]{43}$/;
    const POLL_MS = 1000;           // job progress polling
    const JOBS_REFRESH_MS = 3000;   // the job list while some job is still active
    const OPEN_COURSE_DELAY_MS = 1500; // let the finished bar be seen before the course opens
    const COURSES_PAGE = 20;

    // Words for the stages a worker reports (docs/api.md 4.2); unknown ones are shown as sent.
    const STAGE_WORDS = {
        queued: 'Waiting for a free worker',
        starting: 'Starting',
        parsing: 'Reading the PDF',
        outline: 'Reading the outline',
        text: 'Extracting the text',
        headings: 'Finding the headings',
        structure: 'Finding the structure',
        cleaning: 'Cleaning the text',
        summaries: 'Writing the summaries',
        summary: 'Writing the summaries',
        key_terms: 'Finding the key terms',
        terms: 'Finding the key terms',
        quiz: 'Writing the quiz',
        building: 'Building the course',
        storing: 'Saving the course',
        done: 'Done',
    };

    // Words for a failed job's error code (docs/protocol.md section 4).
    const JOB_ERROR_WORDS = {
        not_pdf: 'This file is not a PDF that can be read.',
        encrypted: 'The PDF is protected by a password. Upload a copy without protection.',
        damaged: 'The PDF is damaged and could not be read.',
        no_text: 'The PDF has no text to read (is it a scan of paper pages?).',
        too_large: 'The PDF is too large to turn into a course (too many pages or too much content).',
        parser_crashed: 'Reading this PDF crashed the reader. The file may be unusual or damaged.',
        timeout: 'Reading this PDF took too long and was stopped.',
        worker_lost: 'The computers building the course stopped answering, several times. Try again later.',
        cancelled: 'The job was cancelled.',
        internal: 'Something went wrong on the server while building the course.',
    };

    const STATE_WORDS = {
        queued: 'Queued',
        running: 'Running',
        succeeded: 'Ready',
        failed: 'Failed',
        cancelled: 'Cancelled',
    };

    // ---------------------------------------------------------------- small DOM helpers

    const $ = (id) => document.getElementById(id);

    // el('p', {class: 'x', href: '#'}, 'text', node, ...): attributes set with setAttribute,
    // children strings become text nodes.
    function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        if (attrs) {
            for (const [name, value] of Object.entries(attrs)) {
                if (value === undefined || value === null || value === false) continue;
                node.setAttribute(name, value === true ? '' : String(value));
            }
        }
        for (const child of children) {
            if (child === undefined || child === null || child === false) continue;
            node.appendChild(typeof child === 'string' || typeof child === 'number'
                ? document.createTextNode(String(child)) : child);
        }
        return node;
    }

    function setText(node, text) {
        node.textContent = text === undefined || text === null ? '' : String(text);
    }

    // Deleting takes two clicks. The first arms button for a few seconds (its text is prompt,
    // then label again) and gives false; the second, while armed, disarms it and gives true.
    function secondClick(button, prompt, label) {
        if (button.dataset.armed !== '1') {
            button.dataset.armed = '1';
            setText(button, prompt);
            setTimeout(() => {
                if (button.dataset.armed === '1') {
                    button.dataset.armed = '';
                    setText(button, label);
                }
            }, 4000);
            return false;
        }
        button.dataset.armed = '';
        return true;
    }

    function clear(node) {
        while (node.firstChild) node.removeChild(node.firstChild);
    }

    function show(node, visible) {
        node.hidden = !visible;
    }

    function plural(n, one, many) {
        return n + ' ' + (n === 1 ? one : many);
    }

    function formatTime(iso) {
        if (!iso) return '';
        const d = new Date(iso);
        if (isNaN(d.getTime())) return '';
        return d.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
    }

    function formatBytes(n) {
        if (!(n >= 0)) return '';
        if (n < 1024) return plural(n, 'byte', 'bytes');
        if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
        return (n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0) + ' MB';
    }

    function encodeId(id) {
        return encodeURIComponent(String(id));
    }

    // ---------------------------------------------------------------- the search snippet

    // The server sends the snippet HTML-escaped, with <mark>...</mark> around the matches.
    // Split on exactly those two markers; decode the few entities an escaper produces in the
    // rest and add it as text, so no other markup can ever become an element.
    function unescapeEntities(s) {
        return s.replace(/&(amp|lt|gt|quot|apos|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));/g,
            (whole, name, dec, hex) => {
                switch (name) {
                case 'amp': return '&';
                case 'lt': return '<';
                case 'gt': return '>';
                case 'quot': return '"';
                case 'apos': return "'";
                }
                const code = dec !== undefined ? parseInt(dec, 10) : parseInt(hex, 16);
                if (code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) {
                    return String.fromCodePoint(code);
                }
                return whole;
            });
    }

    function snippetNodes(snippet) {
        const frag = document.createDocumentFragment();
        let inMark = false;
        for (const part of String(snippet).split(/(<mark>|<\/mark>)/)) {
            if (part === '<mark>') { inMark = true; continue; }
            if (part === '</mark>') { inMark = false; continue; }
            if (part === '') continue;
            const text = document.createTextNode(unescapeEntities(part));
            frag.appendChild(inMark ? el('mark', null, text) : text);
        }
        return frag;
    }

    // ---------------------------------------------------------------- the API and its errors

    class ApiError extends Error {
        constructor(status, problem, retryAfter) {
            super('HTTP ' + status);
            this.status = status;          // 0: the server could not be reached
            this.problem = problem || null; // RFC 9457 body, when there was one
            this.retryAfter = retryAfter;  // seconds, from Retry-After
        }
    }

    function retryAfterSeconds(value) {
        if (!value) return null;
        const n = parseInt(value, 10);
        if (String(n) === value.trim() && n >= 0) return n;
        const date = Date.parse(value);
        if (!isNaN(date)) return Math.max(0, Math.round((date - Date.now()) / 1000));
        return null;
    }

    async function readBody(resp) {
        const type = (resp.headers.get('Content-Type') || '').toLowerCase();
        if (!type.includes('json')) return null;
        try {
            return await resp.json();
        } catch (e) {
            return null;
        }
    }

    // fetch() a JSON endpoint with the token. Resolves to the body (null for 204); rejects
    // with an ApiError for a network failure (status 0) or any status >= 400.
    async function api(method, path, options) {
        const opts = options || {};
        const headers = {Accept: 'application/json, application/problem+json'};
        if (state.token) headers.Authorization = 'Bearer ' + state.token;
        else if (state.csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = state.csrf;
        let body;
        if (opts.json !== undefined) {
            headers['Content-Type'] = 'application/json';
            body = JSON.stringify(opts.json);
        }
        let resp;
        try {
            resp = await fetch(path, {method, headers, body,
                                      credentials: state.token ? 'omit' : 'same-origin',
                                      referrerPolicy: 'no-referrer', redirect: 'error'});
        } catch (e) {
            throw new ApiError(0, null, null);
        }
        const data = resp.status === 204 ? null : await readBody(resp);
        if (!resp.ok) {
            throw new ApiError(resp.status, data, retryAfterSeconds(resp.headers.get('Retry-After')));
        }
        return data;
    }

    function problemDetail(err) {
        const p = err && err.problem;
        return p && typeof p.detail === 'string' ? p.detail : '';
    }

    // The limit in "the PDF is larger than N bytes" (frontend/api.c), if the server said it.
    function uploadLimit(err) {
        const m = /larger than (\d+) bytes/.exec(problemDetail(err));
        return m ? parseInt(m[1], 10) : null;
    }

    // {message, detail} for any failure: a sentence for a person, and what the server said.
    function describeError(err, context) {
        if (!(err instanceof ApiError)) {
            return {message: 'Something went wrong in this page. Reload it and try again.',
                    detail: err && err.message ? String(err.message) : ''};
        }
        const detail = problemDetail(err);
        const wait = err.retryAfter !== null && err.retryAfter !== undefined ? err.retryAfter : 5;
        switch (err.status) {
        case 0:
            return {message: 'The server could not be reached. Check your network connection, then try again.',
                    detail: ''};
        case 400:
            return {message: 'The server refused the request because something in it is not right.', detail};
        case 401:
            if (context === 'password') {
                return {message: 'Wrong name or password. Check both and try again.', detail: ''};
            }
            if (state.session || context === 'session') {
                return {message: 'Your session has ended. Sign in again.', detail};
            }
            return {message: 'Your token is not valid. It may be mistyped, or it was revoked: ask your administrator for a new one and sign in again.',
                    detail};
        case 403:
            return {message: context === 'upload'
                ? 'Your account may not upload PDFs: only teachers can.'
                : 'Your account is not allowed to do this.', detail};
        case 404:
            return {message: context === 'course' || context === 'quiz'
                ? 'This course does not exist (any more). It may have been deleted.'
                : context === 'job' ? 'This upload does not exist, or it is not yours.'
                : 'This was not found.', detail};
        case 405:
            return {message: 'The server does not offer this yet.', detail};
        case 408:
            return {message: 'The upload took too long and was stopped. Try again, on a faster connection if you can.', detail};
        case 409:
            return {message: context === 'cancel' ? 'This job had already finished, so it cannot be cancelled.'
                : 'This cannot be done in the current state.', detail};
        case 413: {
            const limit = uploadLimit(err);
            return {message: 'The file is larger than the server accepts' +
                        (limit ? ' (at most ' + formatBytes(limit) + ').' : '.') +
                        ' Split the PDF or make it smaller, then upload it again.',
                    detail};
        }
        case 415:
            return {message: 'This file is not a PDF. Choose a PDF file and try again.', detail};
        case 422:
            return {message: 'The server could not use what was sent.', detail};
        case 429:
        case 503:
            return {message: 'The service is busy or down, try again in ' + plural(wait, 'second', 'seconds') + '.',
                    detail};
        case 500:
        case 502:
        case 504:
            return {message: 'Something went wrong on the server. Try again; if it keeps happening, tell your administrator.',
                    detail};
        default: {
            const title = err.problem && typeof err.problem.title === 'string' ? err.problem.title : '';
            return {message: 'The server answered with an error (' + err.status + (title ? ' ' + title : '') + ').',
                    detail};
        }
        }
    }

    // ---------------------------------------------------------------- messages

    function showAlert(err, context) {
        const d = describeError(err, context);
        if (err instanceof ApiError && err.status === 401) {
            // The sign-in form says it: the token is no longer good for anything.
            signOut(d.message);
            return;
        }
        setText($('alert-message'), d.message);
        setText($('alert-detail'), d.detail ? 'The server said: ' + d.detail : '');
        show($('alert-detail'), !!d.detail);
        show($('alert'), true);
    }

    function hideAlert() {
        show($('alert'), false);
    }

    function showNotice(text) {
        setText($('notice'), text);
        show($('notice'), !!text);
    }

    function formError(id, err, context) {
        const node = $(id);
        if (!err) {
            show(node, false);
            setText(node, '');
            return;
        }
        if (typeof err === 'string') {
            setText(node, err);
        } else {
            const d = describeError(err, context);
            clear(node);
            node.appendChild(document.createTextNode(d.message));
            if (d.detail) node.appendChild(el('span', {class: 'detail'}, 'The server said: ' + d.detail));
            if (err instanceof ApiError && err.status === 401) signOut(d.message);
        }
        show(node, true);
    }

    // ---------------------------------------------------------------- state and routing

    const state = {
        token: null,
        session: false, // signed in with name and password (a session cookie)
        csrf: null,     // the session's CSRF token
        role: null,     // 'teacher' (teachers and admins: they may upload) or 'student'
        seq: 0,         // bumped on every navigation: async work of an older view stops
        timer: null,    // the current view's polling timer
        courses: {cursor: null, q: ''},
        course: null,   // the course document being read
        quiz: null,     // the quiz being taken
        quizQuestions: null, // {key: "course/lesson", questions}: a lesson's quiz, for its link
        courseLesson: null,  // the id of the lesson the course view shows
        klass: null,    // the class on the screen (its owner's view has members and join code)
        stream: null,   // the EventSource following a job (docs/api.md 4.14), or null
        deletable: null, // {id, ok}: whether the caller may delete that course
        notice: null,   // a sentence for the next view ("The course ... was deleted.")
    };

    function loadToken() {
        try {
            return window.localStorage.getItem(TOKEN_KEY);
        } catch (e) {
            return null;
        }
    }

    function saveToken(token) {
        try {
            if (token) window.localStorage.setItem(TOKEN_KEY, token);
            else window.localStorage.removeItem(TOKEN_KEY);
        } catch (e) {
            // Private mode without storage: the token lives as long as the page.
        }
    }

    function rememberSession(on) {
        try {
            if (on) window.localStorage.setItem(SESSION_KEY, '1');
            else window.localStorage.removeItem(SESSION_KEY);
        } catch (e) {
            // Private mode without storage: a reload asks for the password again.
        }
    }

    function sessionRemembered() {
        try {
            return window.localStorage.getItem(SESSION_KEY) === '1';
        } catch (e) {
            return false;
        }
    }

    function stopTimer() {
        if (state.timer !== null) {
            clearTimeout(state.timer);
            state.timer = null;
        }
        if (state.stream !== null) {
            state.stream.close();
            state.stream = null;
        }
    }

    const VIEWS = ['signin', 'invite', 'uploads', 'job', 'courses', 'course', 'quiz', 'classes', 'class',
                   'results', 'history', 'loading'];

    function showView(name) {
        for (const v of VIEWS) show($('view-' + v), v === name);
        const heading = $('view-' + name).querySelector('h1');
        if (heading && name !== 'loading') heading.focus({preventScroll: true});
    }

    function setSignedIn(signedIn) {
        show($('nav'), signedIn);
        show($('who'), signedIn);
        show($('nav-uploads'), signedIn && state.role === 'teacher');
        show($('nav-history'), signedIn && state.role === 'student');
        setText($('role-badge'), state.role === 'teacher' ? 'Teacher' : state.role === 'student' ? 'Student' : '');
    }

    function markNav(route) {
        for (const a of document.querySelectorAll('#nav a')) {
            const current = (route === 'uploads' || route === 'job') ? a.id === 'nav-uploads'
                : (route === 'courses' || route === 'course' || route === 'quiz') ? a.id === 'nav-courses'
                : (route === 'classes' || route === 'class') ? a.id === 'nav-classes'
                : route === 'history' ? a.id === 'nav-history' : false;
            if (current) a.setAttribute('aria-current', 'page');
            else a.removeAttribute('aria-current');
        }
    }

    // "#/course/ID/lesson/l3" -> ['course', 'ID', 'lesson', 'l3'], plus ?query parameters.
    function parseHash() {
        const raw = window.location.hash.replace(/^#\/?/, '');
        const q = raw.indexOf('?');
        const path = q >= 0 ? raw.slice(0, q) : raw;
        const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
        const parts = path.split('/').filter((p) => p !== '').map((p) => {
            try { return decodeURIComponent(p); } catch (e) { return p; }
        });
        return {parts, params};
    }

    function go(hash) {
        if (window.location.hash === hash) onHashChange();
        else window.location.hash = hash;
    }

    function onHashChange() {
        // A notice lasts for one navigation (the one that follows what it reports).
        showNotice(state.notice || '');
        state.notice = null;
        route();
    }

    function homeHash() {
        return state.role === 'teacher' ? '#/uploads' : '#/courses';
    }

    function route() {
        state.seq++;
        stopTimer();
        hideAlert();
        if (invitationToken() !== null) {
            setSignedIn(false);
            showView('invite');
            return;
        }
        if (!(state.token || state.session) || !state.role) {
            setSignedIn(false);
            showView('signin');
            return;
        }
        const {parts, params} = parseHash();
        const seq = state.seq;
        const name = parts[0] || '';
        markNav(name);
        if (name === 'uploads' && state.role === 'teacher') {
            viewUploads(seq);
        } else if (name === 'job' && parts[1] && state.role === 'teacher') {
            viewJob(seq, parts[1], params.get('fresh') === '1');
        } else if (name === 'courses') {
            viewCourses(seq, params.get('q') || '');
        } else if (name === 'classes') {
            classes.viewClasses(seq);
        } else if (name === 'class' && parts[1]) {
            classes.viewClass(seq, parts[1]);
        } else if (name === 'history' && state.role === 'student') {
            classes.viewHistory(seq);
        } else if (name === 'course' && parts[1] && parts[2] === 'results' && state.role === 'teacher') {
            classes.viewResults(seq, parts[1]);
        } else if (name === 'course' && parts[1] && parts[2] === 'quiz') {
            viewQuiz(seq, parts[1], parts[3] || null);
        } else if (name === 'course' && parts[1]) {
            viewCourse(seq, parts[1], parts[2] === 'lesson' ? parts[3] : null);
        } else {
            window.location.replace(homeHash());
        }
    }

    // ---------------------------------------------------------------- sign in and out

    // The role decides the view (GET /api/v1/me): teachers and admins may upload.
    function viewRole(me) {
        return me && (me.role === 'teacher' || me.role === 'admin') ? 'teacher' : 'student';
    }

    async function discoverRole() {
        return viewRole(await api('GET', API + '/me'));
    }

    async function signIn(token) {
        state.token = token;
        try {
            state.role = await discoverRole();
        } catch (err) {
            state.token = null;
            state.role = null;
            throw err;
        }
        saveToken(token);
        setSignedIn(true);
    }

    function signOut(message) {
        hideAlert();
        showNotice('');
        if (state.session && state.csrf) {
            // End the session on the server too; the page forgets it whatever the answer.
            api('DELETE', API + '/session').catch(() => {});
        }
        rememberSession(false);
        state.token = null;
        state.session = false;
        state.csrf = null;
        state.role = null;
        // Nothing of this person's stays in memory for the next one (a teacher's copy of a
        // course may hold the quiz answers).
        state.course = null;
        state.quiz = null;
        state.deletable = null;
        state.klass = null;
        state.quizQuestions = null;
        show($('course-publish'), false);
        $('course-publish').dataset.course = '';
        state.notice = null;
        state.seq++;
        stopTimer();
        saveToken(null);
        setSignedIn(false);
        $('token-input').value = '';
        $('signin-password').value = '';
        formError('password-error', null);
        formError('signin-error', message || null);
        showView('signin');
        if (window.location.hash && window.location.hash !== '#/') {
            history.replaceState(null, '', window.location.pathname + window.location.search);
        }
    }

    async function onSignIn(event) {
        event.preventDefault();
        const token = $('token-input').value.trim();
        formError('signin-error', null);
        if (!token) {
            formError('signin-error', 'Paste your token first.');
            return;
        }
        if (!TOKEN_RE.test(token)) {
            formError('signin-error', 'This is not a ProfAI token: a token starts with "pai_" and is 47 characters long. Copy it again, whole.');
            return;
        }
        $('signin-button').disabled = true;
        try {
            await signIn(token);
            $('token-input').value = '';
            if (!window.location.hash || window.location.hash === '#/') go(homeHash());
            else route();
        } catch (err) {
            formError('signin-error', err);
        } finally {
            $('signin-button').disabled = false;
        }
    }

    // A session (docs/api.md 4.19): the cookie is the server's; the page keeps the CSRF token.
    function startSession(me, csrf) {
        state.token = null;
        state.session = true;
        state.csrf = csrf;
        state.role = viewRole(me);
        saveToken(null);
        rememberSession(true);
        setSignedIn(true);
    }

    async function onPasswordSignIn(event) {
        event.preventDefault();
        const name = $('signin-name').value.trim();
        const password = $('signin-password').value;
        formError('password-error', null);
        formError('signin-error', null);
        if (!name || !password) {
            formError('password-error', 'Type your name and your password.');
            return;
        }
        $('password-button').disabled = true;
        try {
            const body = await api('POST', API + '/session', {json: {name, password}});
            $('signin-password').value = '';
            startSession(body.user, body.csrf_token);
            if (!window.location.hash || window.location.hash === '#/') go(homeHash());
            else route();
        } catch (err) {
            $('signin-password').value = '';
            if (err instanceof ApiError && err.status === 401) {
                formError('password-error', describeError(err, 'password').message);
            } else {
                formError('password-error', err);
            }
        } finally {
            $('password-button').disabled = false;
        }
    }

    // "#invite=inv_..." (docs/api.md 4.23): the invitation's token, or null.
    function invitationToken() {
        const m = /^#invite=(inv_[A-Za-z0-9_-]{43})$/.exec(window.location.hash);
        return m ? m[1] : null;
    }

    async function onAcceptInvitation(event) {
        event.preventDefault();
        const token = invitationToken();
        const name = $('invite-name').value.trim();
        const password = $('invite-password').value;
        formError('invite-error', null);
        if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
            formError('invite-error', 'Choose a name of 1 to 64 letters, digits and . _ - @ (no spaces).');
            return;
        }
        if (password.length < 8) {
            formError('invite-error', 'Choose a password of at least 8 characters.');
            return;
        }
        $('invite-button').disabled = true;
        try {
            await api('POST', API + '/invitations/' + encodeURIComponent(token) + '/accept',
                      {json: {name, password}});
            const body = await api('POST', API + '/session', {json: {name, password}});
            $('invite-password').value = '';
            history.replaceState(null, '', window.location.pathname + window.location.search);
            startSession(body.user, body.csrf_token);
            go(homeHash());
        } catch (err) {
            if (err instanceof ApiError && err.status === 404) {
                formError('invite-error', 'This invitation is not valid any more: it was used, or it expired. Ask for a new one.');
            } else if (err instanceof ApiError && err.status === 409) {
                formError('invite-error', 'This name is taken. Choose another one.');
            } else {
                formError('invite-error', err);
            }
        } finally {
            $('invite-button').disabled = false;
        }
    }

    // ---------------------------------------------------------------- teacher: uploads

    function jobStateBadge(job) {
        const s = job.state || 'unknown';
        return el('span', {class: 'state state-' + s.replace(/[^a-z]/g, '')}, STATE_WORDS[s] || s);
    }

    function jobErrorWords(job) {
        const e = job.error;
        if (!e) return job.state === 'cancelled' ? JOB_ERROR_WORDS.cancelled : '';
        return JOB_ERROR_WORDS[e.code] || ('The course could not be built (' + e.code + ').');
    }

    function stageWords(job) {
        if (job.state === 'succeeded') return 'Done: the course is ready.';
        if (job.state === 'failed') return 'Failed.';
        if (job.state === 'cancelled') return 'Cancelled.';
        const stage = typeof job.stage === 'string' ? job.stage : '';
        const words = STAGE_WORDS[stage] || (stage ? stage.charAt(0).toUpperCase() + stage.slice(1).replace(/_/g, ' ') : 'Waiting');
        return words + '…';
    }

    function queueWords(job) {
        if (job.state === 'queued' && Number.isInteger(job.queue_position)) {
            const words = job.queue_position === 1 ? 'Next in the queue.'
                : 'Position ' + job.queue_position + ' in the queue: ' +
                  plural(job.queue_position - 1, 'upload is', 'uploads are') + ' ahead of yours.';
            const start = formatTime(job.estimated_start);
            return start ? words + ' Expected to start around ' + start + '.' : words;
        }
        if (job.state === 'queued' && job.retry_at) {
            return 'Will try again at ' + formatTime(job.retry_at) + '.';
        }
        if (job.attempts > 1 && (job.state === 'queued' || job.state === 'running')) {
            return 'Attempt ' + job.attempts + ': an earlier attempt was interrupted.';
        }
        return '';
    }

    function jobItem(job) {
        const id = job.job_id;
        const progress = Math.max(0, Math.min(100, Number(job.progress) || 0));
        const title = el('a', {href: '#/job/' + encodeId(id), class: 'job-title'}, job.title || 'Untitled');
        const line = el('p', {class: 'job-line'}, jobStateBadge(job),
            el('span', {class: 'muted'}, formatTime(job.created_at)));
        const item = el('li', {class: 'job', 'data-job': id, 'data-state': job.state || ''}, title, line);
        if (job.state === 'queued' || job.state === 'running') {
            item.appendChild(el('div', {class: 'progress-row small'},
                el('progress', {max: 100, value: progress, 'aria-label': 'Progress of ' + (job.title || 'the upload')}),
                el('span', {class: 'percent'}, progress + '%'),
                el('span', {class: 'muted'}, stageWords(job))));
        }
        const err = jobErrorWords(job);
        if (err && job.state !== 'succeeded') {
            const msg = job.error && job.error.message ? ' (' + job.error.message + ')' : '';
            // A cancelled job is what its teacher asked for, not an error.
            item.appendChild(el('p', {class: job.state === 'cancelled' ? 'job-note' : 'job-error'}, err + msg));
        }
        if (job.state === 'succeeded' && job.course_id) {
            item.appendChild(el('p', null, el('a', {href: '#/course/' + encodeId(job.course_id), class: 'link-strong'}, 'Open the course →')));
        }
        return item;
    }

    async function loadJobs(seq) {
        let data;
        try {
            data = await api('GET', API + '/jobs?limit=50');
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'jobs');
            return;
        }
        if (seq !== state.seq) return;
        const jobs = Array.isArray(data && data.jobs) ? data.jobs : [];
        const list = $('jobs-list');
        clear(list);
        for (const job of jobs) list.appendChild(jobItem(job));
        show($('jobs-empty'), jobs.length === 0);
        if (jobs.some((j) => j.state === 'queued' || j.state === 'running')) {
            stopTimer();
            state.timer = setTimeout(() => { if (seq === state.seq) loadJobs(seq); }, JOBS_REFRESH_MS);
        }
    }

    function viewUploads(seq) {
        showView('uploads');
        formError('upload-error', null);
        loadJobs(seq);
    }

    function onFileChosen() {
        const file = $('upload-file').files[0];
        formError('upload-error', null);
        if (!file) {
            setText($('upload-file-info'), 'Choose the PDF of your notes or manual.');
            return;
        }
        setText($('upload-file-info'), file.name + ' · ' + formatBytes(file.size));
        const title = $('upload-title');
        if (!title.value.trim() || title.dataset.auto === '1') {
            title.value = file.name.replace(/\.pdf$/i, '').replace(/[_]+/g, ' ').slice(0, 200);
            title.dataset.auto = '1';
        }
    }

    // The upload goes as the raw body (Content-Type: application/pdf, ?title=&filename=), with
    // XMLHttpRequest because fetch() cannot report upload progress.
    function sendPdf(file, title, onProgress) {
        return new Promise((resolve, reject) => {
            const params = new URLSearchParams();
            if (title) params.set('title', title);
            params.set('filename', file.name || 'upload.pdf');
            const xhr = new XMLHttpRequest();
            xhr.open('POST', API + '/jobs?' + params.toString());
            if (state.token) xhr.setRequestHeader('Authorization', 'Bearer ' + state.token);
            else if (state.csrf) xhr.setRequestHeader('X-CSRF-Token', state.csrf);
            xhr.setRequestHeader('Content-Type', 'application/pdf');
            xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
            xhr.responseType = 'text';
            xhr.upload.onprogress = (e) => {
                if (e.lengthComputable && e.total > 0) onProgress(Math.round(100 * e.loaded / e.total));
            };
            xhr.onerror = () => reject(new ApiError(0, null, null));
            xhr.ontimeout = () => reject(new ApiError(0, null, null));
            xhr.onload = () => {
                let body = null;
                try {
                    body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
                } catch (e) {
                    body = null;
                }
                if (xhr.status >= 200 && xhr.status < 300) resolve(body);
                else reject(new ApiError(xhr.status, body, retryAfterSeconds(xhr.getResponseHeader('Retry-After'))));
            };
            xhr.send(file);
        });
    }

    async function onUpload(event) {
        event.preventDefault();
        formError('upload-error', null);
        const file = $('upload-file').files[0];
        const title = $('upload-title').value.trim();
        if (!file) {
            formError('upload-error', 'Choose a PDF file first.');
            return;
        }
        if (file.size === 0) {
            formError('upload-error', 'This file is empty. Choose another one.');
            return;
        }
        if (file.type && file.type !== 'application/pdf' && !/\.pdf$/i.test(file.name)) {
            formError('upload-error', 'This file is not a PDF. Choose a PDF file and try again.');
            return;
        }
        if (new TextEncoder().encode(title).length > 200) {
            formError('upload-error', 'The title is too long: keep it under 200 characters.');
            return;
        }
        const seq = state.seq;
        $('upload-button').disabled = true;
        show($('upload-sending'), true);
        $('upload-progress').value = 0;
        setText($('upload-percent'), 'Sending… 0%');
        try {
            const reply = await sendPdf(file, title, (pct) => {
                $('upload-progress').value = pct;
                setText($('upload-percent'), 'Sending… ' + pct + '%');
            });
            const jobId = reply && (reply.job_id || reply.id);
            if (!jobId) throw new Error('the server did not say which job it created');
            $('upload-form').reset();
            delete $('upload-title').dataset.auto;
            setText($('upload-file-info'), 'Choose the PDF of your notes or manual.');
            if (seq === state.seq) go('#/job/' + encodeId(jobId) + '?fresh=1');
        } catch (err) {
            if (err instanceof ApiError && err.status === 0 && file.size > 10 * 1024 * 1024) {
                formError('upload-error', 'The upload was cut off. If the file is very large, it may be over the server\'s limit; otherwise check your connection and try again.');
            } else {
                formError('upload-error', err, 'upload');
            }
        } finally {
            $('upload-button').disabled = false;
            show($('upload-sending'), false);
        }
    }

    // ---------------------------------------------------------------- teacher: one job

    function renderJob(job) {
        const progress = Math.max(0, Math.min(100, Number(job.progress) || 0));
        const done = job.state === 'succeeded';
        const value = done ? 100 : progress;
        setText($('job-title'), job.title || 'Untitled');
        setText($('job-file'), 'Uploaded ' + formatTime(job.created_at) +
            (job.attempts > 0 ? ' · ' + plural(job.attempts, 'attempt', 'attempts') : ''));
        $('job-progress').value = value;
        $('job-progress').setAttribute('aria-valuetext', value + '%');
        setText($('job-percent'), value + '%');
        setText($('job-stage'), stageWords(job));
        $('job-stage').dataset.stage = done ? 'done' : (job.stage || '');
        $('view-job').dataset.state = job.state || '';
        const queue = queueWords(job);
        setText($('job-queue'), queue);
        show($('job-queue'), !!queue);
        const err = jobErrorWords(job);
        const failed = job.state === 'failed' || job.state === 'cancelled';
        setText($('job-error'), failed ? err + (job.error && job.error.message ? ' (' + job.error.message + ')' : '') : '');
        $('job-error').classList.toggle('job-note', job.state === 'cancelled');
        show($('job-error'), failed);
        show($('job-cancel'), job.state === 'queued' || job.state === 'running');
        const open = $('job-open');
        if (done && job.course_id) open.setAttribute('href', '#/course/' + encodeId(job.course_id));
        show(open, done && !!job.course_id);
    }

    function viewJob(seq, jobId, fresh) {
        showView('job');
        $('job-cancel').onclick = () => cancelJob(seq, jobId);
        $('job-progress').value = 0;
        setText($('job-percent'), '0%');
        setText($('job-stage'), 'Waiting…');
        setText($('job-title'), 'Your course is being built');
        show($('job-open'), false);
        show($('job-error'), false);
        show($('job-queue'), false);
        show($('job-cancel'), false);
        let failures = 0;
        let seenActive = fresh;

        const poll = async () => {
            if (seq !== state.seq) return;
            let job;
            try {
                job = await api('GET', API + '/jobs/' + encodeId(jobId));
            } catch (err) {
                if (seq !== state.seq) return;
                if (err instanceof ApiError && (err.status === 0 || err.status === 503 || err.status >= 500)) {
                    // Transient: say so, keep polling, more slowly.
                    failures++;
                    showAlert(err, 'job');
                    const wait = err.status === 503 && err.retryAfter ? err.retryAfter * 1000 : Math.min(10000, POLL_MS * (1 + failures));
                    state.timer = setTimeout(poll, wait);
                    return;
                }
                showAlert(err, 'job');
                return;
            }
            if (seq !== state.seq) return;
            if (failures > 0) {
                failures = 0;
                hideAlert();
            }
            if (!onJob(job)) state.timer = setTimeout(poll, POLL_MS);
        };

        // The job as it is now: shown; true when it has ended.
        const onJob = (job) => {
            renderJob(job);
            if (job.state === 'queued' || job.state === 'running') {
                seenActive = true;
                return false;
            }
            if (job.state === 'succeeded' && job.course_id && seenActive) {
                // The course opens by itself once the person has seen 100%.
                setText($('job-queue'), 'Opening the course…');
                show($('job-queue'), true);
                state.timer = setTimeout(() => {
                    if (seq === state.seq) go('#/course/' + encodeId(job.course_id));
                }, OPEN_COURSE_DELAY_MS);
            }
            return true;
        };

        // With the session cookie the server pushes the job as it changes (Server-Sent Events,
        // docs/api.md 4.14); EventSource cannot send a bearer token, so a token polls. Any
        // trouble with the stream (503 when too many are open, a dropped connection, an
        // "error" event) closes it and falls back to polling.
        if (state.session && typeof window.EventSource === 'function') {
            $('view-job').dataset.via = 'events';
            const stream = new EventSource(API + '/jobs/' + encodeId(jobId) + '/events');
            state.stream = stream;
            let ended = false;
            const stop = () => {
                stream.close();
                if (state.stream === stream) state.stream = null;
            };
            stream.addEventListener('job', (event) => {
                if (seq !== state.seq) return;
                let job;
                try {
                    job = JSON.parse(event.data);
                } catch (e) {
                    return;
                }
                ended = onJob(job);
                if (ended) stop();
            });
            stream.addEventListener('end', () => {
                ended = true;
                stop();
            });
            stream.addEventListener('error', () => {
                stop();
                if (seq !== state.seq || ended) return;
                $('view-job').dataset.via = 'polling';
                poll();
            });
            return;
        }
        $('view-job').dataset.via = 'polling';
        poll();
    }

    async function cancelJob(seq, jobId) {
        $('job-cancel').disabled = true;
        try {
            const job = await api('DELETE', API + '/jobs/' + encodeId(jobId));
            if (seq === state.seq && job && job.state) renderJob(job);
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'cancel');
        } finally {
            $('job-cancel').disabled = false;
        }
    }

    // ---------------------------------------------------------------- everyone: courses

    function courseItem(course) {
        const meta = [];
        if (Number.isInteger(course.modules)) meta.push(plural(course.modules, 'module', 'modules'));
        if (Number.isInteger(course.lessons)) meta.push(plural(course.lessons, 'lesson', 'lessons'));
        if (typeof course.owner === 'string' && course.owner) meta.push('by ' + course.owner);
        if (course.created_at) meta.push('added ' + formatTime(course.created_at));
        // A search result opens at its best lesson (the one the snippet comes from).
        const href = typeof course.lesson === 'string' && course.lesson
            ? lessonHash(course.id, course.lesson) : '#/course/' + encodeId(course.id);
        const link = el('a', {href, class: 'course-link'},
            el('span', {class: 'course-name'}, course.title || 'Untitled'),
            el('span', {class: 'muted course-meta'}, meta.join(' · ')));
        const item = el('li', {class: 'course', 'data-course': course.id}, link);
        if (typeof course.snippet === 'string' && course.snippet) {
            item.appendChild(el('p', {class: 'snippet'}, snippetNodes(course.snippet)));
        }
        return item;
    }

    async function loadCourses(seq, q, cursor) {
        const params = new URLSearchParams();
        if (q) params.set('q', q);
        params.set('limit', String(COURSES_PAGE));
        if (cursor) params.set('cursor', cursor);
        $('courses-more').disabled = true;
        let data;
        try {
            data = await api('GET', API + '/courses?' + params.toString());
        } catch (err) {
            if (seq === state.seq) {
                showAlert(err, 'courses');
                setText($('courses-summary'), '');
            }
            return;
        } finally {
            $('courses-more').disabled = false;
        }
        if (seq !== state.seq) return;
        const courses = Array.isArray(data && data.courses) ? data.courses : [];
        const list = $('courses-list');
        if (!cursor) clear(list);
        for (const c of courses) list.appendChild(courseItem(c));
        state.courses.cursor = data && typeof data.next_cursor === 'string' ? data.next_cursor : null;
        show($('courses-more'), !!state.courses.cursor);
        const n = list.children.length;
        if (q) {
            setText($('courses-summary'), n === 0 ? 'No course matches “' + q + '”.'
                : (state.courses.cursor ? 'Best matches for “' + q + '” first.' : plural(n, 'course matches', 'courses match') + ' “' + q + '”.'));
        } else {
            setText($('courses-summary'), n === 0
                ? (state.role === 'teacher' ? 'No courses yet. Upload a PDF to make the first one.' : 'No courses yet. Your teachers have not published any.')
                : 'Newest first.');
        }
    }

    function viewCourses(seq, q) {
        showView('courses');
        $('search-input').value = q;
        state.courses = {cursor: null, q};
        clear($('courses-list'));
        show($('courses-more'), false);
        setText($('courses-summary'), q ? 'Searching…' : 'Loading…');
        loadCourses(seq, q, null);
    }

    function onSearch(event) {
        event.preventDefault();
        const q = $('search-input').value.trim();
        go(q ? '#/courses?q=' + encodeURIComponent(q) : '#/courses');
    }

    // ---------------------------------------------------------------- everyone: a course

    // Lessons in reading order with their module, each with an id ("l<k>" from the course
    // document; older documents without ids get the same numbering here).
    function lessonsOf(course) {
        const out = [];
        const modules = Array.isArray(course.modules) ? course.modules : [];
        modules.forEach((m, mi) => {
            const lessons = Array.isArray(m.lessons) ? m.lessons : [];
            lessons.forEach((l) => {
                out.push({lesson: l, module: m, moduleIndex: mi,
                          id: typeof l.id === 'string' && l.id ? l.id : 'l' + (out.length + 1)});
            });
        });
        return out;
    }

    function pagesWords(item) {
        const a = item.page_start;
        const b = item.page_end;
        if (!Number.isInteger(a)) return '';
        return a === b || !Number.isInteger(b) ? 'Page ' + a : 'Pages ' + a + '–' + b;
    }

    function lessonHash(courseId, lessonId) {
        return '#/course/' + encodeId(courseId) + '/lesson/' + encodeId(lessonId);
    }

    function renderToc(course, lessons, currentId) {
        const root = $('toc-modules');
        clear(root);
        const byModule = new Map();
        for (const entry of lessons) {
            if (!byModule.has(entry.moduleIndex)) byModule.set(entry.moduleIndex, []);
            byModule.get(entry.moduleIndex).push(entry);
        }
        (course.modules || []).forEach((m, mi) => {
            const items = byModule.get(mi) || [];
            const list = el('ol', {class: 'toc-lessons'});
            for (const entry of items) {
                const a = el('a', {href: lessonHash(course.id, entry.id)}, entry.lesson.title || 'Untitled');
                if (entry.id === currentId) a.setAttribute('aria-current', 'page');
                list.appendChild(el('li', null, a));
            }
            root.appendChild(el('li', {class: 'toc-module'},
                el('span', {class: 'toc-module-title'}, m.title || 'Module ' + (mi + 1)), list));
        });
    }

    // Paragraphs are separated by blank lines in the lesson text (docs/course-generation.md).
    function renderText(node, text) {
        clear(node);
        const paragraphs = String(text || '').split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p);
        if (paragraphs.length === 0) {
            node.appendChild(el('p', {class: 'muted'}, 'This lesson has no text.'));
            return;
        }
        for (const p of paragraphs) node.appendChild(el('p', null, p));
    }

    function renderLesson(course, lessons, index) {
        const entry = lessons[index];
        const l = entry.lesson;
        setText($('lesson-module'), entry.module.title || '');
        setText($('lesson-title'), l.title || 'Untitled');
        setText($('lesson-pages'), pagesWords(l));
        const summary = typeof l.summary === 'string' ? l.summary.trim() : '';
        setText($('lesson-summary'), summary || 'This lesson is too short for a summary.');
        $('lesson-summary').classList.toggle('muted', !summary);
        const terms = Array.isArray(l.key_terms) ? l.key_terms.filter((t) => typeof t === 'string' && t) : [];
        const termList = $('lesson-terms');
        clear(termList);
        for (const t of terms) termList.appendChild(el('li', {class: 'chip'}, t));
        show($('lesson-terms-box'), terms.length > 0);
        show($('lesson-summary-box'), 'summary' in l || 'key_terms' in l);
        renderText($('lesson-text'), l.text);
        showLessonQuiz(course, entry);
        classes.recordLessonOpen(course, entry);
        const prev = $('lesson-prev');
        const next = $('lesson-next');
        show(prev, index > 0);
        show(next, index + 1 < lessons.length);
        if (index > 0) {
            prev.setAttribute('href', lessonHash(course.id, lessons[index - 1].id));
            prev.setAttribute('title', lessons[index - 1].lesson.title || '');
        }
        if (index + 1 < lessons.length) {
            next.setAttribute('href', lessonHash(course.id, lessons[index + 1].id));
            next.setAttribute('title', lessons[index + 1].lesson.title || '');
        }
        renderToc(course, lessons, entry.id);
    }

    // The link to this lesson's own quiz, shown when the lesson has questions. The course
    // document lists them for teachers; students read the lesson's quiz (without answers, as
    // many questions as they are dealt per attempt) once per lesson.
    async function showLessonQuiz(course, entry) {
        const link = $('lesson-quiz');
        show(link, false);
        let questions = Array.isArray(course.quiz) ? course.quiz : null;
        if (!questions) {
            const key = course.id + '/' + entry.id;
            if (!state.quizQuestions || state.quizQuestions.key !== key) {
                try {
                    const quiz = await api('GET', API + '/courses/' + encodeId(course.id) + '/quiz?lesson=' +
                                           encodeURIComponent(entry.id));
                    state.quizQuestions = {key,
                                           questions: Array.isArray(quiz.questions) ? quiz.questions : []};
                } catch (err) {
                    return; // the lesson reads without its quiz
                }
            }
            questions = state.quizQuestions.questions;
        }
        const asked = questions.filter((q) => q && q.lesson === entry.id).length;
        link.setAttribute('href', '#/course/' + encodeId(course.id) + '/quiz/' + encodeId(entry.id));
        setText(link, 'Quiz on this lesson (' + plural(asked, 'question', 'questions') + ')');
        show(link, asked > 0);
    }

    async function fetchCourse(courseId) {
        if (state.course && state.course.id === courseId) return state.course;
        const course = await api('GET', API + '/courses/' + encodeId(courseId));
        state.course = course;
        return course;
    }

    // opts.quiet: drawn again after an edit (curation.js): the focus and the scroll stay put.
    async function viewCourse(seq, courseId, lessonId, opts) {
        const quiet = !!(opts && opts.quiet);
        let course;
        const cached = state.course && state.course.id === courseId;
        if (!cached) showView('loading');
        try {
            course = await fetchCourse(courseId);
        } catch (err) {
            if (seq !== state.seq) return;
            showView('courses');
            showAlert(err, 'course');
            return;
        }
        if (seq !== state.seq) return;
        const lessons = lessonsOf(course);
        let index = lessonId ? lessons.findIndex((e) => e.id === lessonId) : 0;
        if (index < 0) index = 0;
        state.courseLesson = lessons.length > 0 ? lessons[index].id : null;
        setText($('course-title'), course.title || 'Untitled');
        const src = course.source || {};
        const meta = [];
        if (Number.isInteger(src.pages)) meta.push(plural(src.pages, 'page', 'pages'));
        meta.push(plural(lessons.length, 'lesson', 'lessons'));
        if (typeof src.author === 'string' && src.author) meta.push('by ' + src.author);
        if (typeof src.filename === 'string' && src.filename) meta.push('from ' + src.filename);
        setText($('course-meta'), meta.join(' · '));
        const quiz = Array.isArray(course.quiz) ? course.quiz.length : null;
        const quizLink = $('course-quiz');
        quizLink.setAttribute('href', '#/course/' + encodeId(course.id) + '/quiz');
        setText(quizLink, quiz === null ? 'Take the quiz' : 'Take the quiz (' + plural(quiz, 'question', 'questions') + ')');
        show(quizLink, quiz === null || quiz > 0);
        const del = $('course-delete');
        show(del, false);
        show($('course-results'), false);
        if ($('course-curate').dataset.course !== course.id) curation.hide();
        // The publishing panel is read again whenever the course view is entered afresh.
        if ($('view-course').hidden || $('course-publish').dataset.course !== course.id) {
            show($('course-publish'), false);
        }
        setText(del, 'Delete course');
        del.dataset.armed = '';
        del.onclick = () => deleteCourse(seq, course, del);
        if (state.role === 'teacher' && course.job_id) offerDelete(seq, course, del);
        if (lessons.length === 0) {
            showView('course');
            return;
        }
        renderLesson(course, lessons, index);
        const wasVisible = !$('view-course').hidden;
        if (quiet) return;
        if (!wasVisible) showView('course');
        else $('lesson-title').focus({preventScroll: true});
        if (lessonId) $('lesson').scrollIntoView({block: 'start'});
        else window.scrollTo(0, 0);
        // On a narrow screen the contents fold away once a lesson is chosen.
        $('course-toc').open = window.matchMedia('(min-width: 880px)').matches || !lessonId;
    }

    // Only the course's owner (or an admin) may delete it. The API has no "who am I", but the
    // job that built the course is visible exactly to them: GET /api/v1/jobs/{job_id}.
    async function offerDelete(seq, course, button) {
        if (state.deletable && state.deletable.id === course.id) {
            showOwnerTools(seq, course, button, state.deletable.ok);
            return;
        }
        let ok = false;
        try {
            await api('GET', API + '/jobs/' + encodeId(course.job_id));
            ok = true;
        } catch (err) {
            ok = false; // 404: another teacher's course; anything else: no button, no harm
        }
        state.deletable = {id: course.id, ok};
        if (seq === state.seq) showOwnerTools(seq, course, button, ok);
    }

    // The owner's tools on a course: delete, results, publishing to classes, curation.
    function showOwnerTools(seq, course, button, ok) {
        show(button, ok);
        if (!ok) show($('course-publish'), false);
        if (ok) curation.show(course, state.courseLesson);
        else curation.hide();
        const results = $('course-results');
        results.setAttribute('href', '#/course/' + encodeId(course.id) + '/results');
        show(results, ok);
        if (ok && ($('course-publish').hidden || $('course-publish').dataset.course !== course.id)) {
            $('course-publish').dataset.course = course.id;
            setText($('course-publish-status'), '');
            classes.loadPublish(seq, course);
        }
    }

    // Deleting takes two clicks (secondClick).
    async function deleteCourse(seq, course, button) {
        if (!secondClick(button, 'Click again to delete', 'Delete course')) return;
        button.disabled = true;
        try {
            await api('DELETE', API + '/courses/' + encodeId(course.id));
            state.course = null;
            state.notice = 'The course “' + (course.title || 'Untitled') + '” was deleted.';
            go('#/courses');
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'course');
        } finally {
            button.disabled = false;
            setText(button, 'Delete course');
        }
    }

    // ---------------------------------------------------------------- everyone: the quiz

    // The prompt holds one blank, "_____", where the answer was.
    function promptNodes(prompt) {
        const frag = document.createDocumentFragment();
        const parts = String(prompt || '').split(/_{3,}/);
        parts.forEach((part, i) => {
            if (i > 0) frag.appendChild(el('span', {class: 'blank', 'aria-label': 'blank'}, '_____'));
            if (part) frag.appendChild(document.createTextNode(part));
        });
        return frag;
    }

    function renderQuestions(course, quiz) {
        const list = $('quiz-questions');
        clear(list);
        const lessonTitles = new Map(lessonsOf(course).map((e) => [e.id, e.lesson.title]));
        quiz.questions.forEach((q, qi) => {
            const choices = el('div', {class: 'choices'});
            (q.choices || []).forEach((c, ci) => {
                const id = 'choice-' + qi + '-' + ci;
                choices.appendChild(el('label', {class: 'choice', for: id},
                    el('input', {type: 'radio', name: 'q-' + qi, id, value: ci, 'data-question': q.id}),
                    el('span', null, String(c))));
            });
            const from = [];
            const lessonTitle = lessonTitles.get(q.lesson);
            if (lessonTitle) from.push('From “' + lessonTitle + '”');
            if (Number.isInteger(q.source_page)) from.push('page ' + q.source_page);
            const legend = el('legend', null, el('span', {class: 'qnum'}, 'Question ' + (qi + 1)));
            const fieldset = el('fieldset', {class: 'question', 'data-question': q.id}, legend,
                el('p', {class: 'prompt'}, promptNodes(q.prompt)),
                choices,
                from.length ? el('p', {class: 'muted source'}, from.join(', ')) : null,
                el('p', {class: 'feedback', hidden: true}));
            list.appendChild(el('li', null, fieldset));
        });
    }

    function renderAttempts(attempts) {
        const list = $('quiz-attempts');
        clear(list);
        for (const a of attempts.slice(0, 10)) {
            const pct = a.total > 0 ? Math.round(100 * a.score / a.total) : 0;
            list.appendChild(el('li', null,
                el('strong', null, a.score + ' / ' + a.total), ' (' + pct + '%) · ',
                el('span', {class: 'muted'}, formatTime(a.created_at))));
        }
        show($('quiz-attempts-box'), attempts.length > 0);
    }

    // The attempts at the quiz on the page: one lesson's (lessonId), or the whole course's.
    async function loadAttempts(seq, courseId, lessonId) {
        try {
            const data = await api('GET', API + '/courses/' + encodeId(courseId) + '/quiz/attempts?lesson=' +
                                   encodeURIComponent(lessonId || ''));
            if (seq === state.seq) renderAttempts(Array.isArray(data && data.attempts) ? data.attempts : []);
        } catch (err) {
            // The history is a bonus: the quiz works without it.
            if (seq === state.seq) show($('quiz-attempts-box'), false);
        }
    }

    function resetQuiz() {
        for (const input of $('quiz-form').querySelectorAll('input')) {
            input.checked = false;
            input.disabled = false;
        }
        for (const f of $('quiz-form').querySelectorAll('fieldset')) {
            f.classList.remove('is-correct', 'is-wrong');
            const fb = f.querySelector('.feedback');
            fb.hidden = true;
            setText(fb, '');
            for (const c of f.querySelectorAll('.choice')) c.classList.remove('chosen', 'answer');
        }
        show($('quiz-score'), false);
        show($('quiz-submit'), true);
        formError('quiz-error', null);
    }

    // The whole quiz, or one lesson's questions (lessonId).
    async function viewQuiz(seq, courseId, lessonId) {
        showView('loading');
        let course;
        let quiz;
        try {
            course = await fetchCourse(courseId);
            // A lesson's quiz from the server: a student is dealt questions per scope.
            quiz = await api('GET', API + '/courses/' + encodeId(courseId) + '/quiz' +
                             (lessonId ? '?lesson=' + encodeURIComponent(lessonId) : ''));
        } catch (err) {
            if (seq !== state.seq) return;
            showView('courses');
            showAlert(err, 'quiz');
            return;
        }
        if (seq !== state.seq) return;
        quiz.questions = Array.isArray(quiz.questions) ? quiz.questions : [];
        const entry = lessonId ? lessonsOf(course).find((e) => e.id === lessonId) : null;
        if (entry) quiz.questions = quiz.questions.filter((q) => q && q.lesson === entry.id);
        state.quiz = {courseId, lessonId: entry ? entry.id : null, questions: quiz.questions};
        $('quiz-back').setAttribute('href', entry ? lessonHash(courseId, entry.id) : '#/course/' + encodeId(courseId));
        setText($('quiz-back'), entry ? '← Back to the lesson' : '← Back to the course');
        setText($('quiz-title'), 'Quiz: ' + (entry ? (entry.lesson.title || 'Untitled') : (course.title || 'Untitled')));
        setText($('quiz-intro'), quiz.questions.length === 0
            ? (entry ? 'This lesson has no questions.' : 'This course has no quiz: its lessons have too little text to ask about.')
            : plural(quiz.questions.length, 'question', 'questions') + '. Answer as many as you like, then check your answers.');
        renderQuestions(course, quiz);
        resetQuiz();
        show($('quiz-form'), quiz.questions.length > 0);
        show($('quiz-attempts-box'), false);
        showView('quiz');
        loadAttempts(seq, courseId, state.quiz.lessonId);
    }

    function showResults(result) {
        const byId = new Map((result.results || []).map((r) => [r.question, r]));
        let firstWrong = null;
        state.quiz.questions.forEach((q, qi) => {
            const fieldset = $('quiz-form').querySelector('fieldset[data-question="' + CSS.escape(q.id) + '"]');
            if (!fieldset) return;
            const r = byId.get(q.id);
            const fb = fieldset.querySelector('.feedback');
            const labels = fieldset.querySelectorAll('.choice');
            for (const input of fieldset.querySelectorAll('input')) input.disabled = true;
            if (!r) return;
            if (Number.isInteger(r.chosen) && labels[r.chosen]) labels[r.chosen].classList.add('chosen');
            if (Number.isInteger(r.answer) && labels[r.answer]) labels[r.answer].classList.add('answer');
            fieldset.classList.add(r.correct ? 'is-correct' : 'is-wrong');
            const answer = Number.isInteger(r.answer) && q.choices ? q.choices[r.answer] : null;
            setText(fb, r.correct ? 'Correct.' : (answer !== null && answer !== undefined
                ? 'Not quite: the answer is “' + answer + '”.' : 'Not quite.'));
            fb.hidden = false;
            if (!r.correct && firstWrong === null) firstWrong = qi;
        });
        // The server scores the attempt over its scope: the questions on the page (one
        // lesson's, or the whole quiz), those left open as wrong (docs/api.md 4.10).
        const shown = state.quiz.questions.map((q) => byId.get(q.id)).filter((r) => r);
        const total = Number.isInteger(result.total) ? result.total : state.quiz.questions.length;
        const score = Number.isInteger(result.score) ? result.score : shown.filter((r) => r.correct).length;
        const open = shown.filter((r) => !Number.isInteger(r.chosen)).length;
        const pct = total > 0 ? Math.round(100 * score / total) : 0;
        setText($('quiz-score-number'), score + ' / ' + total);
        $('quiz-score-bar').value = pct;
        // A student sees the right answers only with the last attempt allowed (docs/api.md 4.10).
        const hidden = (result.results || []).some((r) => !r.correct && !Number.isInteger(r.answer));
        setText($('quiz-score-words'), 'You answered ' + plural(score, 'question', 'questions') + ' of ' + total +
            ' correctly (' + pct + '%)' + (open > 0 ? ', ' + plural(open, 'question', 'questions') + ' left open' : '') + '. ' +
            (pct === 100 ? 'Perfect!' : pct >= 70 ? 'Well done.' : 'Read the lessons again and have another go.') +
            (hidden ? ' The right answers are shown with your last attempt.' : ''));
        $('quiz-score').dataset.score = String(score);
        $('quiz-score').dataset.total = String(total);
        show($('quiz-score'), true);
        show($('quiz-submit'), false);
        $('quiz-score').scrollIntoView({block: 'start'});
    }

    async function onQuizSubmit(event) {
        event.preventDefault();
        const seq = state.seq;
        const quiz = state.quiz;
        if (!quiz) return;
        formError('quiz-error', null);
        const answers = {};
        let missing = -1;
        quiz.questions.forEach((q, qi) => {
            const chosen = $('quiz-form').querySelector('input[name="q-' + qi + '"]:checked');
            if (chosen) answers[q.id] = parseInt(chosen.value, 10);
            else if (missing < 0) missing = qi;
        });
        // A partial attempt is fine (questions left open count as wrong), an empty one is not.
        if (Object.keys(answers).length === 0) {
            formError('quiz-error', 'Answer at least one question first.');
            const first = $('quiz-form').querySelector('input[name="q-' + Math.max(missing, 0) + '"]');
            if (first) first.focus();
            return;
        }
        $('quiz-submit').disabled = true;
        try {
            const result = await api('POST', API + '/courses/' + encodeId(quiz.courseId) + '/quiz/attempts',
                                     {json: quiz.lessonId ? {lesson: quiz.lessonId, answers} : {answers}});
            if (seq !== state.seq) return;
            showResults(result || {});
            loadAttempts(seq, quiz.courseId, quiz.lessonId);
        } catch (err) {
            if (seq === state.seq) formError('quiz-error', err, 'quiz');
        } finally {
            $('quiz-submit').disabled = false;
        }
    }

    // ---------------------------------------------------------------- start

    let classes = null; // classes.js, set up first thing in start()
    let curation = null; // curation.js, likewise

    // An edit answered with the whole course (curation.js): draw the course view again from it.
    async function refreshCourse(course) {
        state.course = course;
        state.quizQuestions = null;
        await viewCourse(state.seq, course.id, state.courseLesson, {quiet: true});
    }

    async function start() {
        $('signin-form').addEventListener('submit', onSignIn);
        $('password-form').addEventListener('submit', onPasswordSignIn);
        $('invite-form').addEventListener('submit', onAcceptInvitation);
        $('sign-out').addEventListener('click', () => signOut(null));
        $('alert-close').addEventListener('click', hideAlert);
        $('upload-form').addEventListener('submit', onUpload);
        $('upload-file').addEventListener('change', onFileChosen);
        $('upload-title').addEventListener('input', () => { delete $('upload-title').dataset.auto; });
        $('jobs-refresh').addEventListener('click', () => loadJobs(state.seq));
        $('search-form').addEventListener('submit', onSearch);
        $('courses-more').addEventListener('click', () => loadCourses(state.seq, state.courses.q, state.courses.cursor));
        $('quiz-form').addEventListener('submit', onQuizSubmit);
        // Classes, publishing, results and a student's history live in classes.js, which gets
        // the helpers it shares with this file here.
        classes = window.profaiClasses({API, $, el, setText, clear, show, plural, formatTime, encodeId,
                                        ApiError, readBody, api, state, showAlert, formError, go, showView,
                                        promptNodes, fetchCourse, secondClick});
        curation = window.profaiCuration({API, $, el, setText, clear, show, plural, encodeId, api, state,
                                          formError, refreshCourse, secondClick});
        $('quiz-again').addEventListener('click', () => {
            resetQuiz();
            $('quiz-questions').scrollIntoView({block: 'start'});
        });
        window.addEventListener('hashchange', onHashChange);

        const token = loadToken();
        if (!token && sessionRemembered()) {
            // A session may still be open: /me says so (with its CSRF token) or answers 401.
            showView('loading');
            try {
                const me = await api('GET', API + '/me');
                if (me.auth === 'session') startSession(me, me.csrf_token);
                else rememberSession(false);
            } catch (err) {
                rememberSession(false);
            }
            route();
            return;
        }
        if (!token) {
            route();
            return;
        }
        showView('loading');
        try {
            await signIn(token);
            route();
        } catch (err) {
            if (err instanceof ApiError && err.status === 401) {
                signOut('The token saved in this browser is no longer valid. Paste a new one.');
            } else {
                // Keep the saved token: the server may be back in a moment.
                state.token = null;
                setSignedIn(false);
                showView('signin');
                $('token-input').value = token;
                formError('signin-error', err);
            }
        }
    }

    document.addEventListener('DOMContentLoaded', start);
})();
