-- access_key 1.0 -> 1.1
--
-- Released upgrade scripts are never edited; this one is written alongside
-- access_key.sql until 1.1 is released, and test upgrade checks that a 1.0
-- database updated with it has exactly the objects of a fresh 1.1 install.

\echo Use "ALTER EXTENSION access_key UPDATE TO '1.1'" to load this file. \quit
