export async function runDemo(_io: unknown): Promise<number> { return 0; }
