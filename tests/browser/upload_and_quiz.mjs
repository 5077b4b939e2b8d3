// upload_and_quiz.mjs - drive ProfAI's web page in Debian's headless Chromium (playwright-core).
//
// A teacher signs in, uploads a PDF, watches the progress bar reach 100% (pushed by the
// server's event stream) and the course open, creates a class, renames it, rotates its join
// code and publishes the course to it; a student joins the class with the code, searches for
// the course, reads a lesson (summary and key terms), answers a lesson's quiz and the whole
// quiz, sees the score and their history; the teacher then sees the results per class and per
// course (and their CSV), removes and enrols the student by name. A wrong token must give the
// human message.
// Screenshots of every step, at desktop size and at a phone's 390x844, go to PROFAI_OUTPUT.
//
// Run by tests/system/test_browser.py (which starts the real stack); by hand:
//   PROFAI_URL=http://127.0.0.1:8080 PROFAI_TEACHER_TOKEN=pai_... PROFAI_STUDENT_TOKEN=pai_... \
//   PROFAI_PDF=course.pdf PROFAI_TITLE='Cell Biology' PROFAI_SEARCH='photosynthesis' \
//   PROFAI_OUTPUT=out/ node tests/browser/upload_and_quiz.mjs
//
// Environment: PROFAI_URL, PROFAI_TEACHER_TOKEN, PROFAI_STUDENT_TOKEN, PROFAI_PDF, PROFAI_TITLE,
// PROFAI_SEARCH (words of one lesson of that PDF), PROFAI_OUTPUT (a directory), and optionally
// CHROMIUM (default /usr/bin/chromium) and PROFAI_OTHER_TITLE (a course that must NOT come
// first for PROFAI_SEARCH). Exit status 0 when every check held, 1 otherwise (the reason on
// stderr, a screenshot of the page as it was in PROFAI_OUTPUT/failure-*.png).

import { chromium } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name, fallback) => {
    const v = process.env[name];
    if (v === undefined || v === '') {
        if (fallback !== undefined) return fallback;
        throw new Error(`environment variable ${name} is required`);
    }
    return v;
};

const BASE = env('PROFAI_URL').replace(/\/+$/, '');
const TEACHER = env('PROFAI_TEACHER_TOKEN');
const STUDENT = env('PROFAI_STUDENT_TOKEN');
// The same two people sign in on the desktop with their names and password (a session cookie);
// the phone uses their tokens.
const TEACHER_LOGIN = { name: env('PROFAI_TEACHER_NAME'), password: env('PROFAI_PASSWORD') };
const STUDENT_LOGIN = { name: env('PROFAI_STUDENT_NAME'), password: env('PROFAI_PASSWORD') };
// An invitation link a teacher made (docs/api.md 4.23): a new student joins through it.
const INVITE_PATH = env('PROFAI_INVITE_PATH');
const PDF = env('PROFAI_PDF');
const TITLE = env('PROFAI_TITLE');
const SEARCH = env('PROFAI_SEARCH');
const OTHER_TITLE = env('PROFAI_OTHER_TITLE', '-');
const OUT = env('PROFAI_OUTPUT');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');

// Flags for a closed network: no background connections, no component downloads, no QUIC.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync'];

const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const STEP_TIMEOUT_MS = 20000;

const log = (...args) => console.log('[browser]', ...args);

class CheckError extends Error {}
function check(condition, message) {
    if (!condition) throw new CheckError(message);
}

// ------------------------------------------------------------------ watching the page

// Problems a page must never have: script errors, CSP or Trusted Types violations, requests
// to any other origin. "Failed to load resource" console lines are the browser reporting the
// API's own 4xx answers (the wrong-token case), which the page handles.
const problems = [];
function watch(page, label) {
    page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
    page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const text = msg.text();
        if (/Failed to load resource/.test(text)) return;
        problems.push(`${label}: console error: ${text}`);
    });
    page.on('request', (req) => {
        const url = req.url();
        if (!url.startsWith(BASE + '/') && !url.startsWith('data:') && !url.startsWith('blob:')) {
            problems.push(`${label}: request to another origin: ${url}`);
        }
    });
}

let shotCount = 0;
async function shot(page, name, fullPage = true) {
    shotCount += 1;
    const file = join(OUT, `${String(shotCount).padStart(2, '0')}-${name}.png`);
    // A whole-page picture is taken from the top, or the sticky top bar lands mid-page.
    if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage });
    log('screenshot', file);
    return file;
}

async function visible(page, selector) {
    await page.locator(selector).first().waitFor({ state: 'visible' });
}

async function text(page, selector) {
    return (await page.locator(selector).first().textContent()) || '';
}

// who: a token, or {name, password}.
async function signIn(page, who) {
    await page.goto(BASE + '/');
    await visible(page, '#view-signin');
    if (typeof who === 'string') {
        await page.fill('#token-input', who);
        await page.click('#signin-button');
    } else {
        await page.fill('#signin-name', who.name);
        await page.fill('#signin-password', who.password);
        await page.click('#password-button');
    }
}

// ------------------------------------------------------------------ the steps

async function checkHeaders(page) {
    const resp = await page.goto(BASE + '/');
    check(resp && resp.status() === 200, `GET / answered ${resp && resp.status()}`);
    const h = resp.headers();
    check((h['content-type'] || '').startsWith('text/html'), `GET / Content-Type ${h['content-type']}`);
    check((h['content-security-policy'] || '').includes("default-src 'self'"),
        `GET / has no CSP default-src 'self': ${h['content-security-policy']}`);
    check(h['x-content-type-options'] === 'nosniff', 'GET / lacks X-Content-Type-Options: nosniff');
    check(h['referrer-policy'] === 'no-referrer', 'GET / lacks Referrer-Policy: no-referrer');
    check(!!h['etag'], 'GET / has no ETag');
}

async function wrongToken(page) {
    // Well-formed, so the server (not the page's format check) has to refuse it.
    const bogus = 'pai_' + randomBytes(32).toString('base64url');
    await signIn(page, bogus);
    await visible(page, '#signin-error');
    const message = await text(page, '#signin-error');
    check(/your token is not valid/i.test(message), `wrong token: message was "${message}"`);
    check(await page.locator('#view-signin').isVisible(), 'wrong token: the sign-in form went away');
    await shot(page, 'wrong-token');

    await page.fill('#token-input', 'not-a-token');
    await page.click('#signin-button');
    const malformed = await text(page, '#signin-error');
    check(/not a ProfAI token/i.test(malformed), `malformed token: message was "${malformed}"`);

    await signIn(page, { name: TEACHER_LOGIN.name, password: 'not the password' });
    await visible(page, '#password-error');
    const wrong = await text(page, '#password-error');
    check(/wrong name or password/i.test(wrong), `wrong password: message was "${wrong}"`);
    check(await page.locator('#view-signin').isVisible(), 'wrong password: the sign-in form went away');
}

async function teacherUploads(page) {
    await signIn(page, TEACHER_LOGIN);
    await visible(page, '#view-uploads');
    check((await text(page, '#role-badge')).trim() === 'Teacher', 'teacher: the role badge does not say Teacher');

    // A file that is not a PDF: the server refuses it (415), the page says so in words.
    await page.setInputFiles('#upload-file', { name: 'notes.pdf', mimeType: 'application/pdf',
        buffer: Buffer.from('These are my notes, typed as plain text.\n'.repeat(50)) });
    await page.fill('#upload-title', 'Not a PDF');
    await page.click('#upload-button');
    await visible(page, '#upload-error');
    const refused = await text(page, '#upload-error');
    check(/not a PDF/i.test(refused), `a text file sent as a PDF: message was "${refused}"`);
    await shot(page, 'teacher-not-a-pdf');

    await page.setInputFiles('#upload-file', PDF);
    await page.fill('#upload-title', TITLE);
    check(!(await page.locator('#upload-error').isVisible()), 'the old error stayed after choosing another file');
    await shot(page, 'teacher-upload-form');
    await page.click('#upload-button');
    await visible(page, '#view-job');

    // Follow the bar until it is full: values only grow, the stage is named all along.
    const seen = [];
    const stages = new Set();
    const deadline = Date.now() + 60000;
    let midShot = false;
    for (;;) {
        const value = await page.evaluate(() => {
            const p = document.getElementById('job-progress');
            return p && !document.getElementById('view-job').hidden ? p.value : null;
        });
        if (value === null) throw new CheckError('the job view closed before the bar reached 100%');
        const stage = (await text(page, '#job-stage')).trim();
        check(stage.length > 0, 'the progress bar has no stage text');
        if (seen.length === 0 || seen[seen.length - 1] !== value) seen.push(value);
        stages.add(stage);
        if (value >= 100) break;
        if (!midShot && value > 0) {
            midShot = true;
            await shot(page, 'teacher-progress', false);
        }
        check(Date.now() < deadline, `the bar did not reach 100% within 60 s (values ${seen.join(',')})`);
        await page.waitForTimeout(100);
    }
    // At 100%: the bar, the percentage and the stage say so, before the course opens.
    const final = await page.evaluate(() => ({
        value: document.getElementById('job-progress').value,
        percent: document.getElementById('job-percent').textContent,
        stage: document.getElementById('job-stage').textContent,
    }));
    check(final.value === 100, `progress bar value ${final.value}, expected 100`);
    check(final.percent.trim() === '100%', `percentage shown "${final.percent}"`);
    check(/done/i.test(final.stage), `stage at 100% is "${final.stage}", expected it to say done`);
    // Signed in with the session cookie, the page follows the job's event stream, not polling.
    const via = await page.evaluate(() => document.getElementById('view-job').dataset.via);
    check(via === 'events', `the job was followed by "${via}", expected the event stream`);
    await shot(page, 'teacher-progress-100', false);
    for (let i = 1; i < seen.length; i++) {
        check(seen[i] >= seen[i - 1], `the bar went backwards: ${seen.join(',')}`);
    }
    // Live: the bar showed the job under way, not only empty and full.
    check(seen.some((v) => v > 0 && v < 100), `the bar never showed progress between 0 and 100: ${seen.join(',')}`);
    log('progress values seen:', seen.join(','), '| stages:', [...stages].join(' / '));

    // The course opens by itself.
    await visible(page, '#view-course');
    await page.waitForFunction((t) => document.getElementById('course-title').textContent === t, TITLE);
    const hash = new URL(page.url()).hash;
    const m = /^#\/course\/([0-9a-f-]{36})/.exec(hash);
    check(m, `the course did not open (location ${page.url()})`);
    await shot(page, 'teacher-course-opened');

    // The job is in the list of past uploads, ready.
    await page.click('#nav-uploads');
    await visible(page, '#view-uploads');
    const item = page.locator('#jobs-list li.job', { hasText: TITLE }).first();
    await item.waitFor();
    check((await item.getAttribute('data-state')) === 'succeeded', 'the job list does not show the job as succeeded');
    await shot(page, 'teacher-uploads-list');
    const jobHref = await item.locator('a.job-title').getAttribute('href');

    await page.click('#sign-out');
    await visible(page, '#view-signin');
    const stored = await page.evaluate(() => window.localStorage.getItem('profai.token'));
    check(stored === null, 'sign out did not forget the token');
    const session = await page.evaluate(() => window.localStorage.getItem('profai.session'));
    check(session === null, 'sign out did not forget the session');
    // The session ended on the server: a reload shows the sign-in form.
    await page.goto(BASE + '/');
    await visible(page, '#view-signin');
    return { courseId: m[1], jobHref, seen };
}

// joinCode: the student is not in the class yet and joins it with this code through the page.
async function studentLearns(page, courseId, prefix, who, joinCode) {
    await signIn(page, who);
    await visible(page, '#view-courses');
    check((await text(page, '#role-badge')).trim() === 'Student', 'student: the role badge does not say Student');
    check(!(await page.locator('#nav-uploads').isVisible()), 'student: the uploads link is shown');
    if (joinCode) {
        // Not in the class yet: the published course is not among the student's courses.
        await page.waitForFunction(() => !/Loading/.test(document.getElementById('courses-summary').textContent));
        check((await page.locator(`#courses-list li[data-course="${courseId}"]`).count()) === 0,
            'student: a course of a class the student is not in is listed');
        await page.click('#nav-classes');
        await visible(page, '#view-classes');
        check(await page.locator('#class-join-box').isVisible(), 'student: no form to join a class');
        check(!(await page.locator('#class-create-box').isVisible()), 'student: the form to create a class is shown');
        await page.fill('#class-join-code', 'ZZZZZZZZZZ');
        await page.click('#class-join-button');
        await visible(page, '#class-join-error');
        check(/no class has this join code/i.test(await text(page, '#class-join-error')), 'student: a wrong code was not refused');
        // Typed in lower case with a space: the page and the server take it.
        await page.fill('#class-join-code', joinCode.slice(0, 5).toLowerCase() + ' ' + joinCode.slice(5).toLowerCase());
        await page.click('#class-join-button');
        await visible(page, '#view-class');
        await page.locator(`#class-courses li[data-course="${courseId}"]`).waitFor();
        check(!(await page.locator('#class-admin').isVisible()), 'student: the class\'s join code and tools are shown');
        check(/you are in the class/i.test(await text(page, '#notice')), 'student: joining was not confirmed');
        await shot(page, `${prefix}joined-class`);
        await page.click('#nav-courses');
        await visible(page, '#view-courses');
    }
    await page.locator(`#courses-list li[data-course="${courseId}"]`).waitFor();
    await shot(page, `${prefix}courses`);

    // Search: the uploaded course comes first, with the match highlighted.
    await page.fill('#search-input', SEARCH);
    await page.click('#search-button');
    await page.waitForFunction(() => /matches|match|No course/.test(document.getElementById('courses-summary').textContent));
    const first = page.locator('#courses-list li.course').first();
    await first.waitFor();
    check((await first.getAttribute('data-course')) === courseId,
        `search "${SEARCH}": the first result is not the uploaded course`);
    check((await first.locator('.course-name').textContent()) === TITLE, 'search: first result title');
    check(OTHER_TITLE === '-' || (await first.locator('.course-name').textContent()) !== OTHER_TITLE,
        'search: the other course came first');
    const marks = await first.locator('.snippet mark').count();
    check(marks > 0, 'search: the snippet has no highlighted match');
    await shot(page, `${prefix}search`);

    // Read a lesson that has a summary and key terms.
    await first.locator('a.course-link').click();
    await visible(page, '#view-course');
    const lessonLinks = page.locator('#toc-modules a');
    const count = await lessonLinks.count();
    check(count >= 1, 'the course has no lessons in its contents');
    let read = false;
    for (let i = 0; i < count && !read; i++) {
        if (!(await page.locator('#course-toc').evaluate((d) => d.open))) {
            await page.click('#course-toc summary');
        }
        await lessonLinks.nth(i).click();
        await page.waitForFunction(() => /\/lesson\//.test(location.hash));
        const summary = (await text(page, '#lesson-summary')).trim();
        const hasSummary = await page.locator('#lesson-summary-box').isVisible() &&
            !(await page.locator('#lesson-summary').evaluate((p) => p.classList.contains('muted')));
        const terms = await page.locator('#lesson-terms li').count();
        if (hasSummary && summary.length > 20 && terms > 0 && await page.locator('#lesson-terms-box').isVisible()) {
            read = true;
            check((await page.locator('#lesson-text p').count()) > 0, 'the lesson shows no text');
        }
    }
    check(read, 'no lesson shows both a summary and key terms');
    await shot(page, `${prefix}lesson`);
    await noOverflow(page, `${prefix}lesson page`);

    // One lesson's quiz, answered in part: the score counts the lesson's questions.
    let lessonQuiz = false;
    for (let i = 0; i < count && !lessonQuiz; i++) {
        await page.waitForLoadState('networkidle'); // the link waits for the quiz's questions
        if (!(await page.locator('#lesson-quiz').isVisible())) {
            if (!(await page.locator('#course-toc').evaluate((d) => d.open))) {
                await page.click('#course-toc summary');
            }
            await lessonLinks.nth(i).click();
            await page.waitForFunction(() => /\/lesson\//.test(location.hash));
            await noOverflow(page, `${prefix}lesson ${i + 1}`);
            continue;
        }
        lessonQuiz = true;
        await page.click('#lesson-quiz');
        await visible(page, '#view-quiz');
        const own = page.locator('#quiz-questions fieldset.question');
        const m = await own.count();
        check(m >= 1 && m <= 3, `the lesson quiz has ${m} questions (1 to 3 expected)`);
        await own.nth(0).locator('input[type=radio]').nth(0).check();
        await page.click('#quiz-submit');
        await visible(page, '#quiz-score');
        const part = await page.locator('#quiz-score').evaluate((e) => ({
            score: Number(e.dataset.score), total: Number(e.dataset.total) }));
        check(part.total === m, `the lesson quiz is scored out of ${part.total}, it has ${m} questions`);
        check(part.score >= 0 && part.score <= 1, `a one-answer attempt scored ${part.score}`);
        await shot(page, `${prefix}lesson-quiz-score`);
        await page.click('#quiz-back');
        await visible(page, '#view-course');
    }
    check(lessonQuiz, 'no lesson offers a quiz of its own');

    // The quiz: answer every question, check, see the score.
    await page.click('#course-quiz');
    await visible(page, '#view-quiz');
    const questions = page.locator('#quiz-questions fieldset.question');
    const n = await questions.count();
    check(n >= 1, 'the quiz has no questions');
    // The teacher's edit (teacherCurates) is what the student is asked.
    const quizText = await page.locator('#quiz-questions').textContent();
    check(quizText.includes(EDITED_PROMPT), 'the student\'s quiz does not show the prompt the teacher edited');
    await shot(page, `${prefix}quiz`);
    // An unanswered quiz is not sent: the page says what is missing.
    await page.click('#quiz-submit');
    await visible(page, '#quiz-error');
    check(/answer at least one question/i.test(await text(page, '#quiz-error')), 'an empty attempt was not refused');
    for (let i = 0; i < n; i++) {
        const choices = questions.nth(i).locator('input[type=radio]');
        check((await choices.count()) === 4, `question ${i + 1} does not have 4 choices`);
        await choices.nth(i % 4).check();
    }
    await page.click('#quiz-submit');
    await visible(page, '#quiz-score');
    const score = await page.locator('#quiz-score').evaluate((s) => ({
        score: Number(s.dataset.score), total: Number(s.dataset.total),
        number: document.getElementById('quiz-score-number').textContent,
    }));
    check(score.total === n, `the score is out of ${score.total}, the quiz has ${n} questions`);
    check(score.score >= 0 && score.score <= n, `score ${score.score} out of range`);
    check(score.number.trim() === `${score.score} / ${n}`, `score shown as "${score.number}"`);
    const marked = await page.locator('#quiz-questions fieldset.is-correct, #quiz-questions fieldset.is-wrong').count();
    check(marked === n, `${marked} of ${n} questions show whether they were right`);
    const right = await page.locator('#quiz-questions fieldset.is-correct').count();
    check(right === score.score, `${right} questions marked right, but the score is ${score.score}`);
    await shot(page, `${prefix}quiz-score`);
    // The earlier attempts list the one just made.
    await page.locator('#quiz-attempts li').first().waitFor();

    // My history: the attempts (newest first: the whole quiz's score just seen) and the
    // lessons opened.
    await page.click('#nav-history');
    await visible(page, '#view-history');
    const attempt = page.locator(`#history-attempts li[data-course="${courseId}"]`).first();
    await attempt.waitFor();
    const scoreText = (await attempt.locator('.history-score').textContent()) || '';
    check(scoreText.startsWith(`${score.score} / ${score.total}`),
        `history: the newest attempt shows "${scoreText}", the quiz scored ${score.score} / ${score.total}`);
    check((await page.locator(`#history-attempts li[data-course="${courseId}"]`).count()) >= 2,
        'history: the lesson\'s and the whole quiz\'s attempts are not both listed');
    const opened = (await text(page, `#history-progress li[data-course="${courseId}"]`)).trim();
    const m = /(\d+) of (\d+) lessons? opened/.exec(opened);
    check(m && Number(m[1]) >= 1 && Number(m[2]) >= Number(m[1]), `history: lessons opened shows "${opened}"`);
    await shot(page, `${prefix}history`);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(wide <= 0, `the history page is ${wide}px wider than the window`);
    return score;
}

// Nothing on the page is wider than the window, and no element's content overflows its box
// (long unbroken strings must wrap: lesson text, summary, key terms, prompts).
async function noOverflow(page, where) {
    const bad = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width) out.push('document ' + document.documentElement.scrollWidth + '/' + width);
        for (const e of document.querySelectorAll('#lesson, #lesson *')) {
            const r = e.getBoundingClientRect();
            if (r.width === 0) continue;
            const clips = getComputedStyle(e).overflowX !== 'visible';
            if (r.right > width + 1 || (!clips && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)) {
                out.push((e.id ? '#' + e.id : e.tagName.toLowerCase() + '.' + e.className) +
                         ' right ' + Math.round(r.right) + ' of ' + width);
            }
        }
        return out.slice(0, 5);
    });
    check(bad.length === 0, `${where}: overflows horizontally: ${bad.join('; ')}`);
}

// A new student follows the invitation link, chooses a name and password, and is signed in.
async function invitedStudentJoins(page, courseId) {
    await page.goto(BASE + INVITE_PATH);
    await visible(page, '#view-invite');
    await shot(page, 'invite');
    await page.fill('#invite-name', 'has a space');
    await page.fill('#invite-password', 'invited passphrase');
    await page.click('#invite-button');
    await visible(page, '#invite-error');
    check(/no spaces/i.test(await text(page, '#invite-error')), 'invite: a bad name was not refused');
    await page.fill('#invite-name', 'invited-student');
    await page.fill('#invite-password', 'invited passphrase');
    await page.click('#invite-button');
    await visible(page, '#view-courses');
    check((await text(page, '#role-badge')).trim() === 'Student', 'invite: the role badge does not say Student');
    // In no class yet: the course, published to a class of others, is not the new student's.
    await page.waitForFunction(() => /No courses yet/.test(document.getElementById('courses-summary').textContent));
    check((await page.locator(`#courses-list li[data-course="${courseId}"]`).count()) === 0,
        'invite: a student in no class sees the course');
    check(!page.url().includes('invite='), 'invite: the invitation stays in the address bar');
    await shot(page, 'invite-joined');
    await page.click('#sign-out');
    await visible(page, '#view-signin');
    // The invitation is used up.
    await page.goto(BASE + INVITE_PATH);
    await visible(page, '#view-invite');
    await page.fill('#invite-name', 'someone-else');
    await page.fill('#invite-password', 'another passphrase');
    await page.click('#invite-button');
    await visible(page, '#invite-error');
    check(/not valid any more/i.test(await text(page, '#invite-error')), 'invite: a used invitation was accepted');
}

async function phoneTour(browser, courseId, jobHref, classId) {
    const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true,
        deviceScaleFactor: 2 });
    const page = await context.newPage();
    watch(page, 'phone');
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.goto(BASE + '/');
    await visible(page, '#view-signin');
    await shot(page, 'phone-signin');

    await signIn(page, TEACHER);
    await visible(page, '#view-uploads');
    await page.locator('#jobs-list li.job').first().waitFor();
    await shot(page, 'phone-teacher-uploads');
    await page.goto(BASE + '/' + jobHref);
    await page.waitForFunction(() => document.getElementById('job-percent').textContent === '100%');
    await shot(page, 'phone-teacher-job-100', false);
    // A bearer token cannot go with an EventSource: the page polls.
    const via = await page.evaluate(() => document.getElementById('view-job').dataset.via);
    check(via === 'polling', `with a token the job was followed by "${via}", expected polling`);
    // No horizontal scrolling at phone width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the job page is ${overflow}px wider than a phone screen`);
    for (const [hash, name, ready] of [
        ['#/classes', 'classes', `#classes-list li[data-class="${classId}"]`],
        [`#/class/${classId}`, 'class', '#class-results tbody tr'],
        [`#/course/${courseId}`, 'course-publish', `#course-publish-list li[data-class="${classId}"]`],
        [`#/course/${courseId}/results`, 'results', '#results-students tbody tr']]) {
        await page.goto(BASE + '/' + hash);
        await page.locator(ready).first().waitFor();
        await shot(page, `phone-teacher-${name}`);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(wide <= 0, `the ${name} page is ${wide}px wider than a phone screen`);
    }
    // The CSV comes as a download also with a token (the page fetches it itself).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#results-csv')]);
    check(download.suggestedFilename() === 'results.csv', `the CSV download is named ${download.suggestedFilename()}`);
    // The curation tools fit a phone, a question's form open included.
    await page.goto(BASE + '/#/course/' + courseId);
    await visible(page, '#course-curate');
    if (!(await page.locator('#course-curate').evaluate((d) => d.open))) await page.click('#course-curate summary');
    for (let i = 0; (await page.locator('#curate-questions .curate-edit').count()) === 0; i++) {
        const links = page.locator('#toc-modules a');
        check(i < await links.count(), 'phone: no lesson lists its questions for editing');
        if (!(await page.locator('#course-toc').evaluate((d) => d.open))) await page.click('#course-toc summary');
        await links.nth(i).click();
        await page.waitForFunction((h) => location.hash === h, await links.nth(i).getAttribute('href'));
    }
    await page.locator('#curate-questions .curate-edit').first().click();
    await page.locator('form.curate-question').first().waitFor();
    await page.locator('#course-curate').scrollIntoViewIfNeeded();
    await shot(page, 'phone-teacher-curate');
    const curateWide = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width) out.push('document ' + document.documentElement.scrollWidth);
        for (const e of document.querySelectorAll('#course-curate, #course-curate *')) {
            const r = e.getBoundingClientRect();
            if (r.width > 0 && r.right > width + 1) out.push((e.id || e.tagName.toLowerCase()) + ' right ' + Math.round(r.right));
        }
        return out.slice(0, 5);
    });
    check(curateWide.length === 0, `the curation tools overflow a phone: ${curateWide.join('; ')}`);
    await page.click('#sign-out');

    const score = await studentLearns(page, courseId, 'phone-', STUDENT);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(wide <= 0, `the quiz page is ${wide}px wider than a phone screen`);
    await context.close();
    return score;
}

// ------------------------------------------------------------------ classes and results

// A course is a draft until it is published to a class (docs/api.md 4.15, 4.16). The teacher
// makes a class on the page, renames it, gets a new join code, makes and deletes another class,
// and publishes the course to the first from the course's page. Returns {classId, code}.
async function teacherPublishes(page, courseId) {
    await signIn(page, TEACHER_LOGIN);
    await visible(page, '#view-uploads');
    await page.click('#nav-classes');
    await visible(page, '#view-classes');
    check(!(await page.locator('#class-join-box').isVisible()), 'teacher: the form to join a class is shown');
    await page.click('#class-create-button');
    await visible(page, '#class-create-error');
    await page.fill('#class-create-name', 'Browser class');
    await page.click('#class-create-button');
    await visible(page, '#view-class');
    check((await text(page, '#class-title')) === 'Browser class', 'teacher: the new class is not shown');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'class-title'),
        'teacher: the focus is not on the class\'s heading');
    const classId = /^#\/class\/([0-9a-f-]{36})$/.exec(new URL(page.url()).hash);
    check(classId, `the class did not open (location ${page.url()})`);
    const first = (await text(page, '#class-code')).trim();
    check(/^[A-Z2-9]{10}$/.test(first), `the join code is "${first}"`);

    await page.fill('#class-rename-name', 'Biology 5B');
    await page.click('#class-rename-button');
    await page.waitForFunction(() => document.getElementById('class-title').textContent === 'Biology 5B');
    await page.click('#class-rotate');
    await page.waitForFunction((old) => {
        const t = document.getElementById('class-code').textContent;
        return t && t !== old;
    }, first);
    const code = (await text(page, '#class-code')).trim();
    check(/^[A-Z2-9]{10}$/.test(code) && /new join code/i.test(await text(page, '#class-status')),
        `the new join code is "${code}" and the status says "${await text(page, '#class-status')}"`);
    await shot(page, 'teacher-class');

    // Another class, deleted again (two clicks).
    await page.click('#nav-classes');
    await visible(page, '#view-classes');
    await page.fill('#class-create-name', 'Class to delete');
    await page.click('#class-create-button');
    await page.waitForFunction(() => document.getElementById('class-title').textContent === 'Class to delete');
    await page.click('#class-delete');
    check(/again/i.test(await text(page, '#class-delete')), 'deleting a class did not ask for a second click');
    await page.click('#class-delete');
    await visible(page, '#view-classes');
    await page.locator(`#classes-list li[data-class="${classId[1]}"]`).waitFor();
    check((await page.locator('#classes-list li', { hasText: 'Class to delete' }).count()) === 0,
        'the deleted class is still listed');

    // Publish from the course's page.
    await page.goto(BASE + '/#/course/' + courseId);
    await visible(page, '#course-publish');
    const row = page.locator(`#course-publish-list li[data-class="${classId[1]}"]`);
    await row.waitFor();
    check((await row.getAttribute('data-published')) === '0', 'the course is published before the teacher did it');
    await row.locator('button').click();
    await page.waitForFunction((id) => {
        const li = document.querySelector(`#course-publish-list li[data-class="${id}"]`);
        return li && li.dataset.published === '1';
    }, classId[1]);
    check(/published to/i.test(await text(page, '#course-publish-status')), 'publishing was not announced');
    check(await page.evaluate(() => document.activeElement && /Unpublish/.test(document.activeElement.textContent)),
        'the focus did not stay on the class\'s button');
    // Unpublished, then published again.
    const publishedIs = (flag) => page.waitForFunction(([id, f]) => {
        const li = document.querySelector(`#course-publish-list li[data-class="${id}"]`);
        return li && li.dataset.published === f;
    }, [classId[1], flag]);
    await row.locator('button').click();
    await publishedIs('0');
    check(/unpublished from/i.test(await text(page, '#course-publish-status')), 'unpublishing was not announced');
    check(/draft/i.test(await text(page, '#course-publish-summary')), 'an unpublished course is not called a draft');
    await row.locator('button').click();
    await publishedIs('1');
    await shot(page, 'teacher-published');
    await page.click('#sign-out');
    await visible(page, '#view-signin');
    return { classId: classId[1], code };
}

// The prompt the teacher gives a question on the page; the student's quiz must show it.
const EDITED_PROMPT = 'Edited in the browser: the right word goes in _____ here.';

// The teacher curates the course on its page (docs/api.md 4.26): an invalid question (two
// identical choices) and an invalid number of questions per attempt are refused with the
// server's 422 shown next to the form and focused; then a question's prompt and right answer
// are changed, shown at once, and still there after a reload.
async function teacherCurates(page, courseId) {
    await signIn(page, TEACHER_LOGIN);
    await visible(page, '#view-uploads');
    await page.goto(BASE + '/#/course/' + courseId);
    await visible(page, '#course-curate');
    if (!(await page.locator('#course-curate').evaluate((d) => d.open))) await page.click('#course-curate summary');
    check((await page.locator('#curate-title').inputValue()) === TITLE, 'curate: the course title is not in its field');

    // Questions per attempt 0: the server's 422 is shown beside the form, with the focus on it.
    await page.fill('#curate-qpa', '0');
    await page.click('#curate-course-save');
    await visible(page, '#curate-course-error');
    const qpaError = await text(page, '#curate-course-error');
    check(/questions_per_attempt/.test(qpaError), `curate: questions per attempt 0 gave "${qpaError}"`);
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'curate-course-error'),
        'curate: the focus is not on the error');
    await page.fill('#curate-qpa', '');

    // A lesson with questions.
    const lessonLinks = page.locator('#toc-modules a');
    const count = await lessonLinks.count();
    let found = false;
    for (let i = 0; i < count && !found; i++) {
        if (!(await page.locator('#course-toc').evaluate((d) => d.open))) await page.click('#course-toc summary');
        const href = await lessonLinks.nth(i).getAttribute('href');
        await lessonLinks.nth(i).click();
        await page.waitForFunction((h) => location.hash === h, href);
        await page.waitForFunction((id) => document.querySelector('#curate-questions-summary').textContent !== '' &&
            document.querySelector('#toc-modules a[aria-current="page"]') !== null, null);
        found = (await page.locator('#curate-questions li[data-question]').count()) > 0;
    }
    check(found, 'curate: no lesson lists its questions');
    const item = page.locator('#curate-questions li[data-question]').first();
    const qid = await item.getAttribute('data-question');
    const oldPrompt = await item.locator('.curate-prompt').textContent();
    const oldAnswer = await item.locator('.curate-choices li').evaluateAll(
        (lis) => lis.findIndex((li) => li.classList.contains('is-answer')));
    check(oldAnswer >= 0 && oldAnswer < 4, `curate: question ${qid} shows no right answer`);
    const newAnswer = (oldAnswer + 1) % 4;
    await item.locator('.curate-edit').click();
    const form = page.locator(`form.curate-question[data-question="${qid}"]`);
    await form.waitFor();
    check(await page.evaluate(() => document.activeElement && document.activeElement.tagName === 'TEXTAREA'),
        'curate: the focus is not on the question\'s prompt');
    check((await form.locator('textarea').inputValue()) === oldPrompt, 'curate: the form does not hold the prompt');
    const choiceInputs = form.locator('input[type="text"]');
    check((await choiceInputs.count()) === 4, 'curate: the form does not have 4 choices');
    const firstChoice = await choiceInputs.nth(0).inputValue();
    const secondChoice = await choiceInputs.nth(1).inputValue();
    // Every field has a label.
    const unlabelled = await form.evaluate((f) => [...f.querySelectorAll('input, textarea')]
        .filter((i) => !i.labels || i.labels.length === 0).length);
    check(unlabelled === 0, `curate: ${unlabelled} fields of the question form have no label`);

    // Two identical choices: 422, shown next to the form, focused, and the form stays.
    await choiceInputs.nth(1).fill(firstChoice);
    await form.locator('button[type="submit"]').click();
    const error = form.locator('.form-error');
    await error.waitFor();
    const said = await error.textContent();
    check(/distinct/i.test(said), `curate: two identical choices gave "${said}"`);
    check(await error.evaluate((e) => document.activeElement === e), 'curate: the focus is not on the question\'s error');
    await shot(page, 'teacher-curate-422');

    // The real edit: a new prompt and another right answer.
    await choiceInputs.nth(1).fill(secondChoice);
    await form.locator('textarea').fill(EDITED_PROMPT);
    await form.locator(`input[type="radio"][value="${newAnswer}"]`).check();
    await form.locator('button[type="submit"]').click();
    const edited = page.locator(`#curate-questions li[data-question="${qid}"]`);
    await page.waitForFunction((id) => {
        const p = document.querySelector(`#curate-questions li[data-question="${id}"] .curate-prompt`);
        return p && p.textContent !== '' && !document.querySelector('form.curate-question[data-question="' + id + '"]');
    }, qid);
    check((await edited.locator('.curate-prompt').textContent()) === EDITED_PROMPT, 'curate: the edited prompt is not shown');
    const shown = await edited.locator('.curate-choices li').evaluateAll(
        (lis) => lis.findIndex((li) => li.classList.contains('is-answer')));
    check(shown === newAnswer, `curate: right answer shown ${shown}, set ${newAnswer}`);
    await page.waitForFunction(() => /saved/i.test(document.getElementById('curate-status').textContent));
    check(await edited.evaluate((e) => document.activeElement === e), 'curate: the focus is not on the edited question');
    await shot(page, 'teacher-curate-edited');

    // The lesson shown is renamed: the contents and the heading follow at once.
    const lessonTitle = (await page.locator('#curate-lesson-title').inputValue()) + ' (edited)';
    await page.fill('#curate-lesson-title', lessonTitle);
    await page.click('#curate-lesson-save');
    await page.waitForFunction((t) => document.getElementById('lesson-title').textContent === t, lessonTitle);
    check((await text(page, '#toc-modules a[aria-current="page"]')) === lessonTitle, 'curate: the contents keep the old lesson title');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'curate-lesson-title'),
        'curate: the focus is not on the lesson\'s title field');

    // Regenerating asks first; Cancel puts the focus back on the button and nothing is sent.
    await page.click('#curate-regenerate');
    await visible(page, '#curate-regen-confirm');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'curate-regen-yes'),
        'curate: the confirmation does not have the focus');
    await page.click('#curate-regen-no');
    check(!(await page.locator('#curate-regen-confirm').isVisible()) &&
        await page.evaluate(() => document.activeElement && document.activeElement.id === 'curate-regenerate'),
        'curate: Cancel did not close the confirmation and give the focus back');

    // Deleting the question or the course takes two clicks (app.js secondClick; the class's
    // second click is in teacherPublishes): the first only asks again, and the reload below
    // shows that nothing went.
    await edited.locator('.curate-delete').click();
    check(/again/i.test(await edited.locator('.curate-delete').textContent()),
        'curate: deleting a question did not ask for a second click');
    await visible(page, '#course-delete');
    await page.click('#course-delete');
    check(/again/i.test(await text(page, '#course-delete')), 'deleting a course did not ask for a second click');

    // The server kept it: a reload shows it again.
    const here = page.url();
    await page.goto(BASE + '/');
    await page.goto(here);
    await visible(page, '#course-curate');
    await page.locator(`#curate-questions li[data-question="${qid}"]`).waitFor({ state: 'attached' });
    check((await page.locator(`#curate-questions li[data-question="${qid}"] .curate-prompt`).textContent()) === EDITED_PROMPT,
        'curate: the edit is gone after a reload');
    await page.click('#sign-out');
    await visible(page, '#view-signin');
    return qid;
}

// After the student's attempts: the class's and the course's results, their CSV, and
// removing and enrolling the student by name.
async function teacherResults(page, courseId, classId) {
    await signIn(page, TEACHER_LOGIN);
    await visible(page, '#view-uploads');
    await page.goto(BASE + '/#/class/' + classId);
    await visible(page, '#view-class');
    const row = page.locator('#class-results tbody tr', { hasText: STUDENT_LOGIN.name }).first();
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    check(cells[0] === TITLE && Number(cells[1]) >= 2 && / \/ /.test(cells[2]),
        `class results: the student's row is ${JSON.stringify(cells)}`);
    const csv = await page.evaluate(async () => {
        const r = await fetch(document.getElementById('class-results-csv').getAttribute('href'));
        return { status: r.status, type: r.headers.get('Content-Type'), body: await r.text() };
    });
    check(csv.status === 200 && /^text\/csv/.test(csv.type) && csv.body.includes(STUDENT_LOGIN.name),
        `class results CSV: ${csv.status} ${csv.type} ${csv.body.slice(0, 200)}`);
    await shot(page, 'teacher-class-results');

    // Remove the student, then enrol them again by name; an unknown name is refused.
    const member = page.locator(`#class-members li[data-name="${STUDENT_LOGIN.name}"]`);
    await member.locator('button').click();
    await page.waitForFunction((n) => !document.querySelector(`#class-members li[data-name="${n}"]`), STUDENT_LOGIN.name);
    check(/removed/i.test(await text(page, '#class-status')), 'removing the student was not announced');
    await page.fill('#class-enrol-name', 'nobody-of-that-name');
    await page.click('#class-enrol-button');
    await visible(page, '#class-enrol-error');
    check(/no student is called/i.test(await text(page, '#class-enrol-error')), 'an unknown name was not refused');
    await page.fill('#class-enrol-name', STUDENT_LOGIN.name);
    await page.click('#class-enrol-button');
    await member.waitFor();
    check(!(await page.locator('#class-enrol-error').isVisible()), 'the old enrol error stayed');

    // The course's results: students and questions.
    await page.click(`#class-courses li[data-course="${courseId}"] a`);
    await visible(page, '#view-course');
    await visible(page, '#course-results');
    await page.click('#course-results');
    await visible(page, '#view-results');
    const srow = page.locator('#results-students tbody tr', { hasText: STUDENT_LOGIN.name }).first();
    await srow.waitFor();
    check((await page.locator('#results-questions tbody tr').count()) >= 1, 'course results: no question rows');
    const qcsv = await page.evaluate(async () => {
        const r = await fetch(document.getElementById('results-questions-csv').getAttribute('href'));
        return { status: r.status, body: await r.text() };
    });
    check(qcsv.status === 200 && /success_rate/.test(qcsv.body.split('\r\n')[0]),
        `questions CSV: ${qcsv.status} ${qcsv.body.slice(0, 200)}`);
    await shot(page, 'teacher-course-results');
    await page.click('#sign-out');
    await visible(page, '#view-signin');
}

// ------------------------------------------------------------------ main

async function main() {
    mkdirSync(OUT, { recursive: true });
    check(existsSync(CHROMIUM), `${CHROMIUM} does not exist: install Debian's chromium (make deps)`);
    check(existsSync(PDF), `${PDF} does not exist`);
    const started = Date.now();
    // Playwright starts Chromium with a fresh, empty --user-data-dir of its own (a temporary
    // directory it removes at close), so nothing from another run is reused.
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
        args: CHROMIUM_ARGS, timeout: 30000 });
    let page = null;
    try {
        const context = await browser.newContext({ viewport: DESKTOP });
        page = await context.newPage();
        watch(page, 'desktop');
        page.setDefaultTimeout(STEP_TIMEOUT_MS);

        await checkHeaders(page);
        await shot(page, 'signin');
        await wrongToken(page);
        log('wrong token: human message shown');
        const { courseId, jobHref, seen } = await teacherUploads(page);
        log('teacher: course', courseId, 'opened after', seen.length, 'progress values');
        const { classId, code } = await teacherPublishes(page, courseId);
        log('teacher: class', classId, 'made and the course published to it on the page');
        const qid = await teacherCurates(page, courseId);
        log('teacher: question', qid, 'edited on the page (a 422 shown first)');
        await context.close();

        // The student is another person: another browser context, nothing shared.
        const studentContext = await browser.newContext({ viewport: DESKTOP });
        page = await studentContext.newPage();
        watch(page, 'student');
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        const score = await studentLearns(page, courseId, 'student-', STUDENT_LOGIN, code);
        log(`student: quiz score ${score.score} / ${score.total}`);
        await studentContext.close();
        page = null;

        const resultsContext = await browser.newContext({ viewport: DESKTOP });
        page = await resultsContext.newPage();
        watch(page, 'results');
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        await teacherResults(page, courseId, classId);
        log('teacher: results seen per class and per course');
        await resultsContext.close();
        page = null;

        const inviteContext = await browser.newContext({ viewport: DESKTOP });
        page = await inviteContext.newPage();
        watch(page, 'invite');
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        await invitedStudentJoins(page, courseId);
        log('invite: a new student joined and signed in');
        await inviteContext.close();
        page = null;

        const phoneScore = await phoneTour(browser, courseId, jobHref, classId);
        log(`phone: quiz score ${phoneScore.score} / ${phoneScore.total}`);

        check(problems.length === 0, 'the page had problems:\n  ' + problems.join('\n  '));
        const summary = { ok: true, course_id: courseId, class_id: classId, progress_values: seen, score,
            phone_score: phoneScore, screenshots: shotCount, seconds: (Date.now() - started) / 1000 };
        writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
        log('all checks passed in', summary.seconds, 's');
    } catch (err) {
        if (page !== null) {
            try {
                await page.screenshot({ path: join(OUT, 'failure.png'), fullPage: true });
                log('failure screenshot', join(OUT, 'failure.png'), 'at', page.url());
            } catch (e) {
                // the page is gone: nothing to show
            }
        }
        if (problems.length) console.error('[browser] page problems:\n  ' + problems.join('\n  '));
        throw err;
    } finally {
        await browser.close();
    }
}

main().then(() => process.exit(0), (err) => {
    console.error('[browser] FAILED:', err instanceof CheckError ? err.message : (err && err.stack) || err);
    process.exit(1);
});
