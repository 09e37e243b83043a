-- Reserved for the Telegram identity work's migration (0011); this empty step goes when that merges.
SELECT 1;
