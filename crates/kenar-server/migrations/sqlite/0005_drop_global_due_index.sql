-- Claims and the due-work probe go app by app (deliveries_app_due); nothing reads the global
-- due index any more, and every insert and status change paid to keep it.
DROP INDEX deliveries_due;
