-- Orders are listed per user.
CREATE INDEX orders_user_id ON orders (user_id);
