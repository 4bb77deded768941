DROP INDEX tokens_counts;
