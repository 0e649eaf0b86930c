-- Webhook URLs may no longer hold a user name and password: they were sent as Basic
-- credentials and shown to everyone who lists recipients. Drop those saved earlier
-- (the signature authenticates each POST).
UPDATE recipients
SET webhook_url = regexp_replace(webhook_url, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\]*@', '\1')
WHERE webhook_url ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\\]*@';

UPDATE messages
SET destination = regexp_replace(destination, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\]*@', '\1'),
    endpoint = regexp_replace(endpoint, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\]*@', '\1')
WHERE channel = 'webhook' AND destination ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\\]*@';
