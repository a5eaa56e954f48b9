-- One database per service, all owned by the application user.
-- The postgres image runs this only when it initialises an empty data volume.
CREATE DATABASE assessment OWNER pathway;
CREATE DATABASE consent OWNER pathway;
CREATE DATABASE plan OWNER pathway;
CREATE DATABASE notifications OWNER pathway;
CREATE DATABASE gateway OWNER pathway;
