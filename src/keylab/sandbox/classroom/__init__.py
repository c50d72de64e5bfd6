"""A class on one sandbox: a roster becomes one organization per student, each with its own key,
prepaid credit, monthly budget (the platform's hard spend limit) and rate limit, so one student's
calls never spend, limit or block another's; the instructor sees spend, requests, errors and lab
progress per student (`report`), and check cells report progress with the student's own key.
"""
