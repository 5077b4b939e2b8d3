// ProfAI web page: the owner's curation tools on a course page (docs/web.md "Curation",
// docs/api.md 4.26): rename the course and the lesson shown, edit, delete and add the lesson's
// quiz questions, set how many questions an attempt deals, regenerate from the stored PDF.
// Loaded before app.js, which calls window.profaiCuration(shared) once and gets back
// {show, hide}: show(course, lessonId) when the owner (or an admin) views a course.
//
// The same rules as app.js: server text goes in with textContent only; failures become
// sentences through app.js's formError (a 422's detail is shown next to the form that caused
// it, and the focus moves to it); every request goes through app.js's api() (CSRF token).
'use strict';

window.profaiCuration = function (shared) {
    const {API, $, el, setText, clear, show, plural, encodeId, api, state, formError, refreshCourse, secondClick} = shared;

    let current = null; // {course, lessonId} shown in the panel
    let formSeq = 0;    // makes the ids of the question forms unique

    function coursePath(course, rest) {
        return API + '/courses/' + encodeId(course.id) + (rest || '');
    }

    function announce(text) {
        setText($('curate-status'), '');
        // A new text node, so that screen readers announce a repeated message too.
        setTimeout(() => setText($('curate-status'), text), 30);
    }

    // Shows err (a string or an ApiError) in the error paragraph errId and moves the focus to it.
    function fail(errId, err) {
        formError(errId, err, 'curate');
        const node = $(errId);
        node.setAttribute('tabindex', '-1');
        node.focus();
    }

    // Runs an edit; on success the course view is drawn again from the answer and focusTo()
    // (run after that) says what gets the focus.
    async function edit(method, path, body, errId, button, message, focusTo) {
        formError(errId, null);
        if (button) button.disabled = true;
        let course;
        try {
            course = await api(method, path, body === undefined ? undefined : {json: body});
        } catch (err) {
            if (button) button.disabled = false;
            fail(errId, err);
            return false;
        }
        if (button) button.disabled = false;
        await refreshCourse(course);
        announce(message);
        const target = focusTo && focusTo();
        if (target) {
            if (!target.hasAttribute('tabindex') && !/^(INPUT|BUTTON|TEXTAREA|A)$/.test(target.tagName)) {
                target.setAttribute('tabindex', '-1');
            }
            target.focus();
        }
        return true;
    }

    function lessonOf(course, lessonId) {
        for (const m of course.modules || []) {
            for (const l of m.lessons || []) if (l.id === lessonId) return l;
        }
        return null;
    }

    // ------------------------------------------------------------ a question, shown or edited

    function questionView(course, q, n) {
        const choices = el('ol', {class: 'curate-choices'});
        (Array.isArray(q.choices) ? q.choices : []).forEach((c, i) => {
            const li = el('li', null, c);
            if (i === q.answer) {
                li.classList.add('is-answer');
                li.appendChild(el('span', {class: 'answer-mark'}, ' (right answer)'));
            }
            choices.appendChild(li);
        });
        const editButton = el('button', {type: 'button', class: 'button button-quiet button-small curate-edit'}, 'Edit');
        const delButton = el('button', {type: 'button', class: 'button button-danger-quiet button-small curate-delete'}, 'Delete');
        const error = el('p', {class: 'form-error', id: 'curate-q-' + q.id + '-error', role: 'alert', hidden: true});
        const item = el('li', {class: 'curate-question', 'data-question': q.id, 'aria-label': 'Question ' + n},
            el('p', {class: 'curate-prompt'}, q.prompt || ''),
            choices,
            el('div', {class: 'curate-actions'}, editButton, delButton),
            error);
        editButton.addEventListener('click', () => {
            const form = questionForm(q, 'Edit question ' + n, async (body, errId, save) => {
                await edit('PATCH', coursePath(course, '/questions/' + encodeId(q.id)), body, errId, save,
                    'Question ' + n + ' was saved.',
                    () => document.querySelector('#curate-questions li[data-question="' + CSS.escape(q.id) + '"]'));
            }, () => {
                box.replaceWith(questionView(course, q, n));
                const again = document.querySelector('#curate-questions li[data-question="' + CSS.escape(q.id) + '"] .curate-edit');
                if (again) again.focus();
            });
            // The form takes the question's place in the list (inside an item of its own).
            const box = el('li', {class: 'curate-question-edit'}, form);
            item.replaceWith(box);
            form.querySelector('textarea').focus();
        });
        // Deleting takes two clicks (app.js secondClick).
        delButton.addEventListener('click', async () => {
            if (!secondClick(delButton, 'Click again to delete', 'Delete')) return;
            await edit('DELETE', coursePath(course, '/questions/' + encodeId(q.id)), undefined, error.id, delButton,
                'Question ' + n + ' was deleted.', () => $('curate-questions-h'));
        });
        return item;
    }

    // A form for a question: prompt, four choices, which one is right. onSave(body, errId,
    // button) sends it; onCancel() puts back what was there.
    function questionForm(q, legend, onSave, onCancel) {
        const k = 'cq' + (++formSeq);
        const errId = k + '-error';
        const prompt = el('textarea', {id: k + '-prompt', rows: 3, maxlength: 4096, required: true,
                                       'aria-describedby': errId});
        prompt.value = q ? q.prompt || '' : '';
        const rows = el('div', {class: 'curate-choice-rows'});
        const inputs = [];
        const radios = [];
        for (let i = 0; i < 4; i++) {
            const input = el('input', {type: 'text', id: k + '-choice-' + i, maxlength: 1024, required: true,
                                       'aria-describedby': errId});
            input.value = q && Array.isArray(q.choices) && typeof q.choices[i] === 'string' ? q.choices[i] : '';
            const radio = el('input', {type: 'radio', name: k + '-answer', id: k + '-right-' + i, value: String(i)});
            radio.checked = q ? q.answer === i : i === 0;
            inputs.push(input);
            radios.push(radio);
            rows.appendChild(el('div', {class: 'curate-choice'},
                el('label', {for: k + '-choice-' + i}, 'Choice ' + (i + 1)),
                input,
                el('span', {class: 'curate-right'}, radio,
                    el('label', {for: k + '-right-' + i}, 'right answer'))));
        }
        const save = el('button', {type: 'submit', class: 'button button-small'}, 'Save question');
        const cancel = el('button', {type: 'button', class: 'button button-quiet button-small'}, 'Cancel');
        const form = el('form', {class: 'curate-question curate-form', novalidate: true, 'data-question': q ? q.id : ''},
            el('fieldset', null,
                el('legend', null, legend),
                el('label', {for: k + '-prompt'}, 'Prompt (write _____ where the answer goes)'),
                prompt,
                el('fieldset', {class: 'curate-choices-box'},
                    el('legend', null, 'Choices (mark the right one)'),
                    rows)),
            el('p', {class: 'form-error', id: errId, role: 'alert', hidden: true}),
            el('div', {class: 'curate-actions'}, save, cancel));
        form.addEventListener('submit', (event) => {
            event.preventDefault();
            const answer = radios.findIndex((r) => r.checked);
            onSave({prompt: prompt.value, choices: inputs.map((i) => i.value), answer}, errId, save);
        });
        cancel.addEventListener('click', onCancel);
        return form;
    }

    // ------------------------------------------------------------ the panel

    function renderQuestions(course, lessonId) {
        const list = $('curate-questions');
        clear(list);
        const questions = (Array.isArray(course.quiz) ? course.quiz : []).filter((q) => q && q.lesson === lessonId);
        questions.forEach((q, i) => list.appendChild(questionView(course, q, i + 1)));
        setText($('curate-questions-summary'), questions.length === 0
            ? 'This lesson has no question yet.'
            : plural(questions.length, 'question', 'questions') + ' on this lesson.');
    }

    function showPanel(course, lessonId) {
        current = {course, lessonId};
        const panel = $('course-curate');
        const fresh = panel.dataset.course !== course.id;
        panel.dataset.course = course.id;
        if (fresh) {
            setText($('curate-status'), '');
            show($('curate-regen-confirm'), false);
            show($('curate-regen-done'), false);
            formError('curate-regen-error', null);
        }
        formError('curate-course-error', null);
        formError('curate-lesson-error', null);
        $('curate-title').value = course.title || '';
        $('curate-qpa').value = Number.isInteger(course.questions_per_attempt) ? String(course.questions_per_attempt) : '';
        const lesson = lessonOf(course, lessonId);
        show($('curate-lesson-form'), !!lesson);
        $('curate-lesson-title').value = lesson ? lesson.title || '' : '';
        setText($('curate-lesson-name'), lesson ? '“' + (lesson.title || 'Untitled') + '”' : '');
        renderQuestions(course, lessonId);
        clear($('curate-add-box'));
        show($('curate-add'), !!lesson);
        const skipped = Array.isArray(course.edits_not_applied) ? course.edits_not_applied.length : 0;
        setText($('curate-skipped'), skipped > 0
            ? plural(skipped, 'edit no longer applies', 'edits no longer apply') + ' since the course was regenerated (their lesson or question is gone).'
            : '');
        show($('curate-skipped'), skipped > 0);
        show(panel, true);
    }

    function hide() {
        show($('course-curate'), false);
    }

    async function onCourseSave(event) {
        event.preventDefault();
        if (!current) return;
        const raw = $('curate-qpa').value.trim();
        let qpa = null;
        if (raw !== '') {
            qpa = Number(raw);
            if (!Number.isInteger(qpa)) {
                fail('curate-course-error', 'Questions per attempt is a whole number (or empty for all of them).');
                return;
            }
        }
        await edit('PATCH', coursePath(current.course), {title: $('curate-title').value, questions_per_attempt: qpa},
            'curate-course-error', $('curate-course-save'), 'The course was saved.', () => $('curate-title'));
    }

    async function onLessonSave(event) {
        event.preventDefault();
        if (!current || !current.lessonId) return;
        await edit('PATCH', coursePath(current.course, '/lessons/' + encodeId(current.lessonId)),
            {title: $('curate-lesson-title').value}, 'curate-lesson-error', $('curate-lesson-save'),
            'The lesson was renamed.', () => $('curate-lesson-title'));
    }

    function onAdd() {
        if (!current) return;
        const {course, lessonId} = current;
        const box = $('curate-add-box');
        clear(box);
        const form = questionForm(null, 'New question', async (body, errId, save) => {
            const before = new Set((course.quiz || []).map((q) => q.id));
            await edit('POST', coursePath(course, '/lessons/' + encodeId(lessonId) + '/questions'), body, errId, save,
                'The question was added.', () => {
                    const items = document.querySelectorAll('#curate-questions li[data-question]');
                    for (const li of items) if (!before.has(li.dataset.question)) return li;
                    return $('curate-questions-h');
                });
        }, () => {
            clear(box);
            show($('curate-add'), true);
            $('curate-add').focus();
        });
        box.appendChild(form);
        show($('curate-add'), false);
        form.querySelector('textarea').focus();
    }

    // Regenerating asks first: the course is rebuilt by a new job (edits kept where they apply).
    function onRegenerate() {
        show($('curate-regen-done'), false);
        formError('curate-regen-error', null);
        show($('curate-regen-confirm'), true);
        $('curate-regen-yes').focus();
    }

    async function onRegenerateYes() {
        if (!current) return;
        const button = $('curate-regen-yes');
        button.disabled = true;
        let job;
        try {
            job = await api('POST', coursePath(current.course, '/regenerate'));
        } catch (err) {
            button.disabled = false;
            show($('curate-regen-confirm'), false);
            fail('curate-regen-error', err);
            return;
        }
        button.disabled = false;
        show($('curate-regen-confirm'), false);
        $('curate-regen-job').setAttribute('href', '#/job/' + encodeId(job.job_id));
        show($('curate-regen-done'), true);
        announce('The course is being regenerated.');
        $('curate-regen-job').focus();
    }

    function onRegenerateNo() {
        show($('curate-regen-confirm'), false);
        $('curate-regenerate').focus();
    }

    $('curate-course-form').addEventListener('submit', onCourseSave);
    $('curate-lesson-form').addEventListener('submit', onLessonSave);
    $('curate-add').addEventListener('click', onAdd);
    $('curate-regenerate').addEventListener('click', onRegenerate);
    $('curate-regen-yes').addEventListener('click', onRegenerateYes);
    $('curate-regen-no').addEventListener('click', onRegenerateNo);

    return {show: showPanel, hide};
};
