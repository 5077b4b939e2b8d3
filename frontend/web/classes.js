// ProfAI web page: classes, publishing, results and a student's history (docs/web.md,
// docs/api.md 4.15-4.18). Loaded before app.js, which calls window.profaiClasses(shared) once
// with the helpers both files use, and gets back the views and hooks it routes to.
//
// The same rules as app.js: server text goes in with textContent / createTextNode only; every
// failure becomes a sentence (app.js's describeError, through showAlert and formError); every
// request goes through app.js's api(), which sends the CSRF token with the session cookie.
'use strict';

window.profaiClasses = function (shared) {
    const {API, $, el, setText, clear, show, plural, formatTime, encodeId, ApiError, readBody, api, state,
           showAlert, formError, go, showView, promptNodes, fetchCourse, secondClick} = shared;

    // ---------------------------------------------------------------- classes (docs/api.md 4.15)

    // A student types the join code however it comes: spaces and dashes go, case is the server's.
    function normalizeCode(code) {
        return String(code || '').replace(/[\s-]+/g, '').toUpperCase();
    }

    function classItem(c) {
        const meta = [];
        if (state.role === 'teacher') {
            if (Number.isInteger(c.students)) meta.push(plural(c.students, 'student', 'students'));
        } else if (typeof c.owner === 'string' && c.owner) {
            meta.push('teacher ' + c.owner);
        }
        if (Number.isInteger(c.courses)) meta.push(plural(c.courses, 'course', 'courses'));
        return el('li', {class: 'course class-item', 'data-class': c.id},
            el('a', {href: '#/class/' + encodeId(c.id), class: 'course-link'},
                el('span', {class: 'course-name'}, c.name || 'Unnamed class'),
                el('span', {class: 'muted course-meta'}, meta.join(' · '))));
    }

    async function loadClasses(seq) {
        let data;
        try {
            data = await api('GET', API + '/classes?limit=100');
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'classes');
            return;
        }
        if (seq !== state.seq) return;
        const classes = Array.isArray(data && data.classes) ? data.classes : [];
        const list = $('classes-list');
        clear(list);
        for (const c of classes) list.appendChild(classItem(c));
        setText($('classes-summary'), classes.length > 0 ? 'Newest first.'
            : state.role === 'teacher' ? 'You have no class yet. Create one above.'
            : 'You are in no class yet. Join one with the code your teacher gave you.');
    }

    function viewClasses(seq) {
        const teacher = state.role === 'teacher';
        show($('class-create-box'), teacher);
        show($('class-join-box'), !teacher);
        formError('class-create-error', null);
        formError('class-join-error', null);
        clear($('classes-list'));
        setText($('classes-summary'), 'Loading…');
        showView('classes');
        loadClasses(seq);
    }

    async function onClassCreate(event) {
        event.preventDefault();
        const name = $('class-create-name').value.trim();
        formError('class-create-error', null);
        if (!name) {
            formError('class-create-error', 'Give the class a name first.');
            $('class-create-name').focus();
            return;
        }
        $('class-create-button').disabled = true;
        try {
            const c = await api('POST', API + '/classes', {json: {name}});
            $('class-create-name').value = '';
            state.notice = 'The class “' + c.name + '” was created. Give its students the join code.';
            go('#/class/' + encodeId(c.id));
        } catch (err) {
            formError('class-create-error', err, 'class');
        } finally {
            $('class-create-button').disabled = false;
        }
    }

    async function onClassJoin(event) {
        event.preventDefault();
        const code = normalizeCode($('class-join-code').value);
        formError('class-join-error', null);
        if (!code) {
            formError('class-join-error', 'Type the join code first.');
            $('class-join-code').focus();
            return;
        }
        $('class-join-button').disabled = true;
        try {
            const c = await api('POST', API + '/classes/join', {json: {code}});
            $('class-join-code').value = '';
            state.notice = 'You are in the class “' + c.name + '”.';
            go('#/class/' + encodeId(c.id));
        } catch (err) {
            if (err instanceof ApiError && err.status === 404) {
                formError('class-join-error', 'No class has this join code. Check it with your teacher: a new code replaces the old one.');
            } else {
                formError('class-join-error', err, 'class');
            }
            $('class-join-code').focus();
        } finally {
            $('class-join-button').disabled = false;
        }
    }

    function classStatus(text) {
        setText($('class-status'), text);
    }

    function renderMembers(c) {
        const list = $('class-members');
        clear(list);
        const members = Array.isArray(c.members) ? c.members : [];
        for (const m of members) {
            const remove = el('button', {type: 'button', class: 'button button-danger-quiet button-small',
                                         'aria-label': 'Remove ' + m.name + ' from the class'}, 'Remove');
            remove.addEventListener('click', () => removeMember(state.seq, c, m, remove));
            list.appendChild(el('li', {class: 'member', 'data-user': m.user_id, 'data-name': m.name},
                el('span', {class: 'member-name'}, m.name),
                el('span', {class: 'muted'}, 'joined ' + formatTime(m.joined_at)), remove));
        }
        show($('class-students-empty'), members.length === 0);
    }

    function renderClass(c) {
        const owner = Array.isArray(c.members); // members come to the owner and admins only
        state.klass = c;
        setText($('class-title'), c.name || 'Unnamed class');
        const meta = [];
        if (typeof c.owner === 'string' && c.owner) meta.push('teacher ' + c.owner);
        if (owner) meta.push(plural(c.members.length, 'student', 'students'));
        if (c.created_at) meta.push('created ' + formatTime(c.created_at));
        setText($('class-meta'), meta.join(' · '));
        show($('class-admin'), owner);
        show($('class-students-box'), owner);
        show($('class-results-box'), owner);
        if (owner) {
            setText($('class-code'), c.join_code || '');
            $('class-rename-name').value = c.name || '';
            renderMembers(c);
        }
        const courses = Array.isArray(c.courses) ? c.courses : [];
        const list = $('class-courses');
        clear(list);
        for (const course of courses) {
            list.appendChild(el('li', {class: 'course', 'data-course': course.id},
                el('a', {href: '#/course/' + encodeId(course.id), class: 'course-link'},
                    el('span', {class: 'course-name'}, course.title || 'Untitled'),
                    el('span', {class: 'muted course-meta'}, 'published ' + formatTime(course.published_at)))));
        }
        show($('class-courses-empty'), courses.length === 0);
    }

    async function viewClass(seq, classId) {
        showView('loading');
        let c;
        try {
            c = await api('GET', API + '/classes/' + encodeId(classId));
        } catch (err) {
            if (seq !== state.seq) return;
            viewClasses(seq);
            showAlert(err, 'class');
            return;
        }
        if (seq !== state.seq) return;
        classStatus('');
        formError('class-rename-error', null);
        formError('class-enrol-error', null);
        const del = $('class-delete');
        del.dataset.armed = '';
        setText(del, 'Delete class');
        renderClass(c);
        showView('class');
        if (Array.isArray(c.members)) {
            const csv = API + '/classes/' + encodeId(c.id) + '/results?format=csv';
            csvLink($('class-results-csv'), csv, 'class-results.csv');
            loadClassResults(seq, c.id);
        }
    }

    async function reloadClass(seq, classId) {
        const c = await api('GET', API + '/classes/' + encodeId(classId));
        if (seq === state.seq) renderClass(c);
    }

    async function onClassRename(event) {
        event.preventDefault();
        const seq = state.seq;
        const c = state.klass;
        const name = $('class-rename-name').value.trim();
        formError('class-rename-error', null);
        if (!c) return;
        if (!name) {
            formError('class-rename-error', 'A class needs a name.');
            return;
        }
        $('class-rename-button').disabled = true;
        try {
            const renamed = await api('PATCH', API + '/classes/' + encodeId(c.id), {json: {name}});
            if (seq !== state.seq) return;
            await reloadClass(seq, renamed.id || c.id);
            classStatus('The class is now called “' + name + '”.');
        } catch (err) {
            if (seq === state.seq) formError('class-rename-error', err, 'class');
        } finally {
            $('class-rename-button').disabled = false;
        }
    }

    async function onClassRotate() {
        const seq = state.seq;
        const c = state.klass;
        if (!c) return;
        $('class-rotate').disabled = true;
        try {
            const r = await api('POST', API + '/classes/' + encodeId(c.id) + '/join-code');
            if (seq !== state.seq) return;
            c.join_code = r.join_code;
            setText($('class-code'), r.join_code);
            classStatus('New join code ' + r.join_code + '. The old one no longer works.');
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'class');
        } finally {
            $('class-rotate').disabled = false;
        }
    }

    // Deleting takes two clicks, as for a course.
    async function onClassDelete() {
        const c = state.klass;
        const button = $('class-delete');
        if (!c) return;
        if (!secondClick(button, 'Click again to delete the class', 'Delete class')) return;
        button.disabled = true;
        try {
            await api('DELETE', API + '/classes/' + encodeId(c.id));
            state.klass = null;
            state.notice = 'The class “' + (c.name || '') + '” was deleted. Its courses stay yours.';
            go('#/classes');
        } catch (err) {
            showAlert(err, 'class');
        } finally {
            button.disabled = false;
            setText(button, 'Delete class');
        }
    }

    async function onClassEnrol(event) {
        event.preventDefault();
        const seq = state.seq;
        const c = state.klass;
        const name = $('class-enrol-name').value.trim();
        formError('class-enrol-error', null);
        if (!c) return;
        if (!name) {
            formError('class-enrol-error', 'Type the student\'s name first.');
            $('class-enrol-name').focus();
            return;
        }
        $('class-enrol-button').disabled = true;
        try {
            await api('POST', API + '/classes/' + encodeId(c.id) + '/students', {json: {name}});
            if (seq !== state.seq) return;
            $('class-enrol-name').value = '';
            await reloadClass(seq, c.id);
            classStatus(name + ' is enrolled in the class.');
            loadClassResults(seq, c.id);
        } catch (err) {
            if (seq !== state.seq) return;
            if (err instanceof ApiError && err.status === 422) {
                formError('class-enrol-error', 'No student is called “' + name + '”. Check the name (it must be a student\'s).');
            } else {
                formError('class-enrol-error', err, 'class');
            }
            $('class-enrol-name').focus();
        } finally {
            $('class-enrol-button').disabled = false;
        }
    }

    async function removeMember(seq, c, member, button) {
        button.disabled = true;
        try {
            await api('DELETE', API + '/classes/' + encodeId(c.id) + '/students/' + encodeId(member.user_id));
            if (seq !== state.seq) return;
            await reloadClass(seq, c.id);
            classStatus(member.name + ' was removed from the class. Their attempts are kept.');
            // The button is gone with its row: focus goes to the form that adds students.
            $('class-enrol-name').focus();
            loadClassResults(seq, c.id);
        } catch (err) {
            button.disabled = false;
            if (seq === state.seq) showAlert(err, 'class');
        }
    }

    // ---------------------------------------------------------------- results (docs/api.md 4.17)

    function scoreWords(score, total) {
        return score === null || score === undefined ? '–' : score + ' / ' + (Number.isInteger(total) ? total : '?');
    }

    function rateWords(rate) {
        return rate === null || rate === undefined ? '–' : Math.round(rate * 100) + '%';
    }

    // A table from column headings and rows of cells (strings or nodes); th scope=col.
    function fillTable(table, headings, rows) {
        clear(table);
        const head = el('tr');
        for (const h of headings) head.appendChild(el('th', {scope: 'col'}, h));
        table.appendChild(el('thead', null, head));
        const body = el('tbody');
        for (const row of rows) {
            const tr = el('tr');
            row.forEach((cell, i) => tr.appendChild(el(i === 0 ? 'th' : 'td', i === 0 ? {scope: 'row'} : null, cell)));
            body.appendChild(tr);
        }
        table.appendChild(body);
    }

    // The CSV export: a plain link with the session cookie; with a bearer token the page fetches
    // the file itself and hands it to the browser as a download.
    function csvLink(link, path, filename) {
        link.setAttribute('href', path);
        link.setAttribute('download', filename);
        link.onclick = async (event) => {
            if (!state.token) return; // the cookie goes with the link
            event.preventDefault();
            try {
                const resp = await fetch(path, {headers: {Authorization: 'Bearer ' + state.token, Accept: 'text/csv'},
                                                credentials: 'omit', referrerPolicy: 'no-referrer'});
                if (!resp.ok) throw new ApiError(resp.status, await readBody(resp), null);
                const url = URL.createObjectURL(await resp.blob());
                const a = el('a', {href: url, download: filename, hidden: true});
                document.body.appendChild(a);
                a.click();
                a.remove();
                setTimeout(() => URL.revokeObjectURL(url), 10000);
            } catch (err) {
                showAlert(err instanceof ApiError ? err : new ApiError(0, null, null), 'results');
            }
        };
    }

    async function loadClassResults(seq, classId) {
        let data;
        try {
            data = await api('GET', API + '/classes/' + encodeId(classId) + '/results');
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'results');
            return;
        }
        if (seq !== state.seq) return;
        const rows = (Array.isArray(data.students) ? data.students : []).map((r) => [
            r.name, r.course_title || 'Untitled', String(r.attempts || 0),
            scoreWords(r.best_score, r.total), scoreWords(r.latest_score, r.total), formatTime(r.last_attempt_at) || '–']);
        fillTable($('class-results'), ['Student', 'Course', 'Attempts', 'Best', 'Latest', 'Last attempt'], rows);
        show($('class-results-empty'), !rows.some((r) => r[2] !== '0'));
    }

    async function viewResults(seq, courseId) {
        showView('loading');
        let data;
        try {
            data = await api('GET', API + '/courses/' + encodeId(courseId) + '/results');
        } catch (err) {
            if (seq !== state.seq) return;
            showView('courses');
            showAlert(err, 'course');
            return;
        }
        if (seq !== state.seq) return;
        setText($('results-title'), 'Results: ' + (data.title || 'Untitled'));
        $('results-back').setAttribute('href', '#/course/' + encodeId(courseId));
        const base = API + '/courses/' + encodeId(courseId) + '/results?format=csv';
        csvLink($('results-csv'), base, 'results.csv');
        csvLink($('results-questions-csv'), base + '&table=questions', 'questions.csv');
        const students = Array.isArray(data.students) ? data.students : [];
        fillTable($('results-students'), ['Student', 'Attempts', 'Best', 'Latest', 'Last attempt'],
            students.map((r) => [r.name, String(r.attempts || 0), scoreWords(r.best_score, r.total),
                                 scoreWords(r.latest_score, r.total), formatTime(r.last_attempt_at) || '–']));
        show($('results-empty'), students.length === 0);
        // The rows name questions by id: their prompts are in the owner's course document.
        let prompts = new Map();
        try {
            const course = await fetchCourse(courseId);
            prompts = new Map((Array.isArray(course.quiz) ? course.quiz : []).map((q) => [q.id, q.prompt]));
        } catch (err) {
            // the ids alone still tell the questions apart
        }
        if (seq !== state.seq) return;
        const questions = Array.isArray(data.questions) ? data.questions : [];
        fillTable($('results-questions'), ['Question', 'Answers', 'Right', 'Success'],
            questions.map((q) => [el('span', null, el('span', {class: 'muted'}, q.question + ' '),
                                      promptNodes(prompts.get(q.question) || '')),
                                  String(q.answers || 0), String(q.correct || 0), rateWords(q.success_rate)]));
        showView('results');
    }

    // ---------------------------------------------------------------- publishing (docs/api.md 4.16)

    // The owner's panel on the course view: every class of theirs, published or not.
    async function loadPublish(seq, course) {
        let mine;
        let published;
        try {
            [mine, published] = await Promise.all([
                api('GET', API + '/classes?limit=100'),
                api('GET', API + '/courses/' + encodeId(course.id) + '/classes?limit=100')]);
        } catch (err) {
            return; // the course reads without the panel
        }
        if (seq !== state.seq) return;
        const on = new Map((published.classes || []).map((c) => [c.id, c]));
        const classes = Array.isArray(mine.classes) ? mine.classes : [];
        const list = $('course-publish-list');
        clear(list);
        for (const c of classes) {
            const isOn = on.has(c.id);
            const button = el('button', {type: 'button', class: 'button button-small ' + (isOn ? 'button-quiet' : ''),
                                         'aria-label': (isOn ? 'Unpublish from ' : 'Publish to ') + c.name},
                isOn ? 'Unpublish' : 'Publish');
            button.addEventListener('click', () => togglePublish(seq, course, c, isOn, button));
            list.appendChild(el('li', {class: 'publish-item', 'data-class': c.id, 'data-published': isOn ? '1' : '0'},
                el('a', {href: '#/class/' + encodeId(c.id)}, c.name),
                el('span', {class: 'muted'}, isOn ? 'published ' + formatTime(on.get(c.id).published_at) : 'not published'),
                button));
        }
        setText($('course-publish-summary'), classes.length === 0
            ? 'Create a class under Classes to publish this course to its students.'
            : on.size === 0 ? 'A draft: no student sees it until you publish it to a class.'
            : 'Students of ' + plural(on.size, 'class', 'classes') + ' see this course.');
        show($('course-publish'), true);
    }

    async function togglePublish(seq, course, c, isOn, button) {
        button.disabled = true;
        const path = API + '/courses/' + encodeId(course.id) + '/classes/' + encodeId(c.id);
        try {
            await api(isOn ? 'DELETE' : 'POST', path);
            if (seq !== state.seq) return;
            setText($('course-publish-status'), isOn ? 'Unpublished from “' + c.name + '”.' : 'Published to “' + c.name + '”.');
            await loadPublish(seq, course);
            // The row was rebuilt: keep the focus on the class's new button.
            const again = $('course-publish-list').querySelector('li[data-class="' + CSS.escape(c.id) + '"] button');
            if (again) again.focus();
        } catch (err) {
            button.disabled = false;
            if (seq === state.seq) showAlert(err, 'course');
        }
    }

    // ---------------------------------------------------------------- a student's history (4.18)

    async function viewHistory(seq) {
        showView('history');
        clear($('history-attempts'));
        clear($('history-progress'));
        show($('history-attempts-empty'), false);
        show($('history-progress-empty'), false);
        let attempts;
        let progress;
        try {
            [attempts, progress] = await Promise.all([api('GET', API + '/me/attempts?limit=50'),
                                                      api('GET', API + '/me/progress?limit=100')]);
        } catch (err) {
            if (seq === state.seq) showAlert(err, 'history');
            return;
        }
        if (seq !== state.seq) return;
        const list = $('history-attempts');
        const items = Array.isArray(attempts.attempts) ? attempts.attempts : [];
        for (const a of items) {
            const pct = a.total > 0 ? Math.round(100 * a.score / a.total) : 0;
            list.appendChild(el('li', {class: 'history-item', 'data-course': a.course_id},
                el('a', {href: '#/course/' + encodeId(a.course_id)}, a.course_title || 'Untitled'),
                el('strong', {class: 'history-score'}, a.score + ' / ' + a.total + ' (' + pct + '%)'),
                el('span', {class: 'muted'}, 'attempt ' + a.number + ' · ' + formatTime(a.created_at))));
        }
        show($('history-attempts-empty'), items.length === 0);
        const read = $('history-progress');
        const courses = Array.isArray(progress.courses) ? progress.courses : [];
        for (const c of courses) {
            const pct = c.lessons > 0 ? Math.round(100 * c.opened / c.lessons) : 0;
            read.appendChild(el('li', {class: 'history-item', 'data-course': c.course_id},
                el('a', {href: '#/course/' + encodeId(c.course_id)}, c.title || 'Untitled'),
                el('span', null, c.opened + ' of ' + plural(c.lessons, 'lesson', 'lessons') + ' opened'),
                el('progress', {max: 100, value: pct, 'aria-label': 'Lessons opened in ' + (c.title || 'the course')})));
        }
        show($('history-progress-empty'), courses.length === 0);
    }

    // Reading a lesson through its own address records that the student opened it (4.18).
    function recordLessonOpen(course, entry) {
        if (state.role !== 'student') return;
        api('GET', API + '/courses/' + encodeId(course.id) + '/lessons/' + encodeId(entry.id)).catch(() => {});
    }

    $('class-create-form').addEventListener('submit', onClassCreate);
    $('class-join-form').addEventListener('submit', onClassJoin);
    $('class-rename-form').addEventListener('submit', onClassRename);
    $('class-enrol-form').addEventListener('submit', onClassEnrol);
    $('class-rotate').addEventListener('click', onClassRotate);
    $('class-delete').addEventListener('click', onClassDelete);

    return {viewClasses, viewClass, viewResults, viewHistory, loadPublish, recordLessonOpen};
};
