DROP INDEX tokens_refused_use;
