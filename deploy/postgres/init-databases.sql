-- One database per service, each owned by a role of its own that can connect to that database alone:
-- a service's credentials reach no other service's tables.
-- The postgres image runs this with psql only when it initialises an empty data volume; each role's
-- password comes from the postgres container's environment (docker-compose.yml), and a missing one
-- stops the initialisation.
\set ON_ERROR_STOP on
\getenv assessment_password ASSESSMENT_DATABASE_PASSWORD
\getenv consent_password CONSENT_DATABASE_PASSWORD
\getenv plan_password PLAN_DATABASE_PASSWORD
\getenv notifications_password NOTIFICATIONS_DATABASE_PASSWORD
\getenv gateway_password GATEWAY_DATABASE_PASSWORD

CREATE ROLE assessment LOGIN PASSWORD :'assessment_password';
CREATE DATABASE assessment OWNER assessment;
REVOKE ALL ON DATABASE assessment FROM PUBLIC;

CREATE ROLE consent LOGIN PASSWORD :'consent_password';
CREATE DATABASE consent OWNER consent;
REVOKE ALL ON DATABASE consent FROM PUBLIC;

CREATE ROLE plan LOGIN PASSWORD :'plan_password';
CREATE DATABASE plan OWNER plan;
REVOKE ALL ON DATABASE plan FROM PUBLIC;

CREATE ROLE notifications LOGIN PASSWORD :'notifications_password';
CREATE DATABASE notifications OWNER notifications;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;

CREATE ROLE gateway LOGIN PASSWORD :'gateway_password';
CREATE DATABASE gateway OWNER gateway;
REVOKE ALL ON DATABASE gateway FROM PUBLIC;
