/* route_handlers.h - every handler named in frontend/routes.c's table, as one X-macro list,
 * so that the unit tests linking routes.o define each stub once (add a row here with a new
 * handler). */
#ifndef PROFAI_TESTS_ROUTE_HANDLERS_H
#define PROFAI_TESTS_ROUTE_HANDLERS_H

#define ROUTE_HANDLERS(X)                                                                          \
    X(jobs_submit)                                                                                 \
    X(jobs_list)                                                                                   \
    X(jobs_get)                                                                                    \
    X(jobs_cancel)                                                                                 \
    X(jobs_events)                                                                                 \
    X(courses_list)                                                                                \
    X(courses_get)                                                                                 \
    X(courses_delete)                                                                              \
    X(quiz_get)                                                                                    \
    X(quiz_attempt_submit)                                                                         \
    X(quiz_attempts_list)                                                                          \
    X(api_index)                                                                                   \
    X(api_health)                                                                                  \
    X(api_live)                                                                                    \
    X(api_ready)                                                                                   \
    X(api_metrics)                                                                                 \
    X(api_static)                                                                                  \
    X(classes_create)                                                                              \
    X(classes_list)                                                                                \
    X(classes_join)                                                                                \
    X(classes_get)                                                                                 \
    X(classes_rename)                                                                              \
    X(classes_delete)                                                                              \
    X(classes_rotate_code)                                                                         \
    X(classes_enrol)                                                                               \
    X(classes_unenrol)                                                                             \
    X(classes_publish)                                                                             \
    X(classes_unpublish)                                                                           \
    X(classes_of_course)                                                                           \
    X(results_course)                                                                              \
    X(results_class)                                                                               \
    X(results_my_attempts)                                                                         \
    X(results_my_progress)                                                                         \
    X(results_lesson_open)                                                                         \
    X(api_openapi)                                                                                 \
    X(accounts_sign_in)                                                                            \
    X(accounts_sign_out)                                                                           \
    X(accounts_sign_out_everywhere)                                                                \
    X(accounts_me)                                                                                 \
    X(accounts_tokens_list)                                                                        \
    X(accounts_token_create)                                                                       \
    X(accounts_token_revoke)                                                                       \
    X(accounts_invitation_create)                                                                  \
    X(accounts_invitation_accept)                                                                  \
    X(account_data_delete)                                                                         \
    X(account_data_export)                                                                         \
    X(curation_course_patch)                                                                       \
    X(curation_module_patch)                                                                       \
    X(curation_lesson_patch)                                                                       \
    X(curation_lesson_delete)                                                                      \
    X(curation_question_add)                                                                       \
    X(curation_question_patch)                                                                     \
    X(curation_question_delete)                                                                    \
    X(curation_regenerate)

#endif
