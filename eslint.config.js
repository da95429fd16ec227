import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'dist-bench/**', 'coverage/**', '.tap/**', 'openapi/**'] }),
  {
    rules: {
      // TypeBox's idiom: a schema and its Static type share one name.
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
