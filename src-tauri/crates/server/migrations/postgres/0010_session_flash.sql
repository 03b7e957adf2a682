-- What a page has to say after a form's redirect (Post/Redirect/Get), for
-- exactly one view: sealed under a key only the browser's cookie holds, and
-- taken (set back to NULL) by the view that shows it.
ALTER TABLE sessions ADD COLUMN flash TEXT;
