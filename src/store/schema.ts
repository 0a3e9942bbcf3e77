/** Row types as stored. Times are epoch milliseconds; booleans are 0/1 on both databases. */
export interface UsersTable {
  id: string;
  username: string;
  username_normalized: string;
  email: string;
  email_normalized: string;
  full_name: string | null;
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface RolesTable {
  name: string;
  description: string;
  builtin: number;
}

export interface UserRolesTable {
  user_id: string;
  role_name: string;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  state: 'active' | 'retired';
  created_at: number;
}

export interface Database {
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  signing_keys: SigningKeysTable;
}
